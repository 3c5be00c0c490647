// The ErrorCode enum: every `extensions.code` a client can receive, with when and whether
// to retry (src/errors.ts is the one list). No field returns it; it is in the schema so
// codegen-typed clients can switch over codes exhaustively.
import { ERROR_CODES } from "../errors.js";
import { builder } from "./builder.js";

builder.enumType("ErrorCode", {
  description:
    "Every extensions.code an error of this API can carry, with when it happens and whether to retry. Errors without one of these do not come from this API.",
  values: Object.fromEntries(
    Object.entries(ERROR_CODES).map(([code, description]) => [code, { description }]),
  ),
});
