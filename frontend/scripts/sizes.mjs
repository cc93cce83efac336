// Keeps the front end in pieces a reader can hold: no file in src/ over MAX_FILE_LINES lines and
// no function (declaration, method, arrow; nested ones counted in their parent) over
// MAX_FUNCTION_LINES; a test file's describe() block is a list of tests, so its tests count instead. Prints the largest of each; exits 1 when one is over. `npm test` runs it.
//   node scripts/sizes.mjs [--top N]
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
const SRC = new URL("../src/", import.meta.url).pathname;
const top = Number(process.argv[process.argv.indexOf("--top") + 1]) || 5;

function* sources(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".gen.ts")) yield path;
  }
}

/** The callback of a describe(...) call: a group of tests rather than a function. */
const isTestGroup = (node) => ts.isCallExpression(node.parent) && node.parent.expression.getText() === "describe";

const files = [];
const functions = [];
for (const path of sources(SRC)) {
  const text = readFileSync(path, "utf8");
  const name = relative(SRC, path);
  files.push({ name, lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0) });
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const line = (position) => source.getLineAndCharacterOfPosition(position).line + 1;
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body && !isTestGroup(node)) {
      const label = node.name?.getText(source) ?? `(${ts.SyntaxKind[node.kind]})`;
      const start = line(node.getStart(source));
      functions.push({ name: `${name}:${start} ${label}`, lines: line(node.getEnd()) - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

const report = (title, items, limit) => {
  items.sort((a, b) => b.lines - a.lines);
  console.log(`${title} (limit ${limit} lines):`);
  for (const item of items.slice(0, top)) console.log(`  ${String(item.lines).padStart(4)}  ${item.name}`);
  return items.filter((item) => item.lines > limit);
};
const over = [...report("largest files", files, MAX_FILE_LINES), ...report("largest functions", functions, MAX_FUNCTION_LINES)];
if (over.length) {
  console.error(`\nToo long: ${over.map((item) => `${item.name} (${item.lines})`).join(", ")}. Split them into modules or smaller functions.`);
  process.exit(1);
}
