// Writes schema.graphql from the Pothos schema: the contract clients and codegen read.
// `npm run schema:print`; test/schema-file.test.ts fails when the committed file is stale.
import { writeFileSync } from "node:fs";
import { printSchemaFile, schemaFilePath } from "../src/schema/print.js";

writeFileSync(schemaFilePath, printSchemaFile());
console.log(`wrote ${schemaFilePath}`);
