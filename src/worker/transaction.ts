// The transaction handle every persisting function of the worker takes.
import type { PrismaClient } from "../db/database.js";

export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];
