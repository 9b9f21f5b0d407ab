import type { AnyRoute } from "../http/route.js";
import { metaRoutes } from "./meta/routes.js";

/** Every route of the API, module by module; the one list the router, OpenAPI and tests read. */
export const routes: readonly AnyRoute[] = [...metaRoutes];
