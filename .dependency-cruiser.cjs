/**
 * The layering of src/, checked by `npm run check:deps` (and .ci/run):
 *
 *   index.ts, app.ts ─▶ console/ ─▶ api/ edge/ oauth/ ─▶ domain folders ─▶ db/ ─▶ shared/ mcp/
 *
 * - no import cycles anywhere, type-only imports included;
 * - shared/ and mcp/ are leaves: they import nothing of the project but each other (mcp/ never shared/'s Workers-bound bits);
 * - db/ is storage only: schema, client and queries, no domain logic;
 * - the domain folders never reach up into api/, edge/, oauth/, console/ or the entry;
 * - console/ (the web console) is the top layer: it reuses api/ (schemas, shared route logic),
 *   oauth/ (the sign-in form's CSRF token), the domains and db/; only app.ts imports it;
 * - only the entry and the preset stub see the Durable Object class (library code takes `Bindings`).
 */
const DOMAIN = "^src/(accounts|alerts|credentials|items|jobs|pinning|policy|preset|streaming|tools|upstream|usage)/";

module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      severity: "error",
      comment: "Import cycles (type-only ones too) make load order and ownership unclear.",
      from: {},
      to: { circular: true },
    },
    {
      name: "leaves-stay-leaves",
      severity: "error",
      comment: "shared/ and mcp/ are small pure utilities and protocol: they import nothing of the project's domains.",
      from: { path: "^src/(shared|mcp)/" },
      to: { path: "^src/", pathNot: "^src/(shared|mcp)/" },
    },
    {
      name: "db-is-storage",
      severity: "error",
      comment: "db/ holds the schema, the client and queries; it knows nothing of the domains above it.",
      from: { path: "^src/db/" },
      to: { path: "^src/", pathNot: "^src/(db|shared)/" },
    },
    {
      name: "domain-does-not-reach-up",
      severity: "error",
      comment: "Domain code is called by api/, edge/ and oauth/, never the other way round.",
      from: { path: DOMAIN },
      to: { path: "^src/(api|edge|oauth|console|app|index)" },
    },
    {
      name: "console-is-the-top-layer",
      severity: "error",
      comment: "The web console reuses the API's schemas and route logic; nothing but app.ts depends on the console.",
      from: { path: "^src/", pathNot: "^src/(app\\.ts|console/)" },
      to: { path: "^src/console/" },
    },
    {
      name: "only-the-stub-sees-the-do-class",
      severity: "error",
      comment: "Callers reach the preset's Durable Object through edge/preset-stub.ts (typed RPC); nothing else imports the class.",
      from: { path: "^src/", pathNot: "^src/(index\\.ts|edge/preset-stub\\.ts|preset/)" },
      to: { path: "^src/preset/gateway\\.ts$" },
    },
    {
      name: "no-orphans",
      severity: "error",
      comment: "A module nothing imports is dead code.",
      from: { orphan: true, path: "^src/", pathNot: "^src/index\\.ts$|\\.d\\.ts$" },
      to: {},
    },
    {
      name: "declared-dependencies-only",
      severity: "error",
      comment: "Every package src/ imports is declared in package.json.",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] },
    },
    {
      name: "no-dev-dependencies-in-src",
      severity: "error",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["workerd", "worker", "import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
