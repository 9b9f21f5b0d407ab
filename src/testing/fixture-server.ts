/** The real server process with the fixture routes added; spawned by the lifecycle tests. */
import { routes } from "../modules/index.js";
import { runServerProcess } from "../server.js";
import { fixtureRoutes } from "./fixture-routes.js";

await runServerProcess([...routes, ...fixtureRoutes]);
