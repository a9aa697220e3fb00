// Drops comments from a generated JS file (wasm-bindgen's glue) in place,
// keeping its first-line `@ts-self-types` directive, which Deno reads. The
// glue is shipped to edge runtimes that count every byte, and its JSDoc is
// already in the .d.ts beside it. TypeScript's own emitter does the work, so
// the code itself is re-printed by a parser rather than edited as text.
import { readFileSync, writeFileSync } from "node:fs";
import ts from "typescript";

for (const file of process.argv.slice(2)) {
  const source = readFileSync(file, "utf8");
  const directive = source.match(/^\/\* @ts-self-types="[^"]*" \*\/\n/)?.[0] ?? "";
  const { outputText } = ts.transpileModule(source, {
    fileName: file,
    compilerOptions: {
      allowJs: true,
      removeComments: true,
      target: ts.ScriptTarget.ESNext,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: true,
    },
  });
  writeFileSync(file, directive + outputText);
}
