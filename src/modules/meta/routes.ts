import { VersionInfo, protobufPackage } from "../../../generated/shtp/v1/meta.js";
import { serverVersion } from "../../config/version.js";
import { defineRoute } from "../../http/route.js";

/** `GET /version`: which server and contract answer; the cheapest route, so also the framework's floor. */
export const getVersion = defineRoute({
  name: "getVersion",
  method: "get",
  path: "/version",
  summary: "The server's name, release and protobuf package.",
  access: "public",
  response: VersionInfo,
  handler: async (): Promise<VersionInfo> => ({
    name: "shtp-api",
    version: serverVersion,
    apiVersion: protobufPackage,
  }),
});

export const metaRoutes = [getVersion];
