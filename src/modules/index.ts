import type { AnyRoute } from "../http/route.js";
import { achievementRoutes } from "./achievements/routes.js";
import { authRoutes } from "./auth/routes.js";
import { eventRoutes } from "./events/routes.js";
import { groupRoutes } from "./groups/routes.js";
import { metaRoutes } from "./meta/routes.js";
import { notificationRoutes } from "./notifications/routes.js";
import { userRoutes } from "./users/routes.js";

/** Every route of the API, module by module; the one list the router, OpenAPI and tests read. */
export const routes: readonly AnyRoute[] = [
  ...metaRoutes,
  ...authRoutes,
  ...userRoutes,
  ...groupRoutes,
  ...notificationRoutes,
  ...achievementRoutes,
  ...eventRoutes,
];
