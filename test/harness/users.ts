// Creating signed-in users for tests through the public API.
import { randomBytes } from "node:crypto";
import { RegisterDocument } from "../gql/graphql.js";
import { mustRequest } from "./app.js";

export const TEST_PASSWORD = "correct horse battery";

export async function registerUser(
  target: { url: string },
  name = `u${randomBytes(5).toString("hex")}`,
) {
  const data = await mustRequest(target, RegisterDocument, {
    input: {
      email: `${name}@example.com`,
      username: name,
      password: TEST_PASSWORD,
      displayName: `User ${name}`,
    },
  });
  return data.register;
}
