/** Prints the permission table, derived from the route declarations, as Markdown. */
import { permissionTable } from "../http/openapi.js";
import { routes } from "../modules/index.js";

const rows = permissionTable(routes).map(
  (row) => `| ${row.method} | \`${row.path}\` | ${row.access} | ${row.operation} |`,
);
process.stdout.write(
  ["| method | path | who may call | operation |", "| --- | --- | --- | --- |", ...rows].join("\n") + "\n",
);
