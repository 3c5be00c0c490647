// GraphiQL in a real browser (headless Chromium) with every request that leaves the server
// refused, as on a machine without internet access: the page, its scripts, styles and
// editor workers all come from the server; it opens on our example operation, runs it, and
// shows a subscription's event arriving live (the token given in the Headers tab).
import { randomUUID } from "node:crypto";
import { access } from "node:fs/promises";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateGroupDocument, RegisterDocument, SendMessageDocument } from "./gql/graphql.js";
import { mustRequest, useTestApp } from "./harness/app.js";
import { until } from "./harness/wait.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const present = await access(CHROMIUM).then(
  () => true,
  () => false,
);
if (!present && process.env.TEST_REQUIRE_SERVICES === "1")
  throw new Error(`TEST_REQUIRE_SERVICES=1 but no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

/** An element's text as read: Monaco lays text out with non-breaking spaces. */
async function textOf(page: import("playwright-core").Page, selector: string) {
  return ((await page.textContent(selector)) ?? "").replace(/\s+/g, " ");
}

describe.skipIf(!present)("GraphiQL offline, in headless Chromium", () => {
  const server = useTestApp();
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it("loads with nothing from the internet, opens on the example, runs it, and shows a subscription's event arrive", async () => {
    // The example signs in as alice: she exists.
    const alice = await mustRequest(server, RegisterDocument, {
      input: {
        email: "alice@example.com",
        username: "alice",
        displayName: "Alice",
        password: "correct horse battery",
      },
    });
    const token = alice.register.accessToken;
    const group = await mustRequest(
      server,
      CreateGroupDocument,
      { input: { name: "GraphiQL" } },
      token,
    );
    const channelId = group.createGroup.channels.edges[0]?.node.id as string;

    const page = await browser.newPage();
    const origin = new URL(server.url).origin;
    const outside: string[] = [];
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith("blob:") || url.startsWith("data:"))
        return route.continue();
      outside.push(url);
      return route.abort();
    });
    await page.goto(server.url);
    await page.waitForSelector(".graphiql-execute-button", { timeout: 30_000 });
    expect(await page.title()).toBe("Chat GraphQL");
    const example = await textOf(page, ".graphiql-query-editor");
    expect(example).toMatch(/put \{"Authorization": "Bearer <accessToken>"\} in the Headers tab/);
    expect(example).toMatch(/mutation Login/);

    // The example as it stands.
    await page.click(".graphiql-execute-button");
    await page.waitForFunction(
      () => document.querySelector(".graphiql-response")?.textContent?.includes('"login"'),
      null,
      { timeout: 20_000 },
    );
    expect(await textOf(page, ".graphiql-response")).toMatch(/"username": "alice"/);

    // The token in the Headers tab, a subscription in the editor.
    await page.click("button:has-text('Headers')");
    await page.locator(".graphiql-editor-tool .monaco-editor:visible").click();
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
    await page.locator(".graphiql-query-editor .monaco-editor").click();
    await page.keyboard.press("Control+A");
    await page.keyboard.insertText(
      `subscription { messageAdded(channelId: "${channelId}") { body sender { username } } }`,
    );
    // GraphiQL re-reads the operation (and names the tab after it) before it can run it.
    await page.waitForFunction(
      () =>
        ![...document.querySelectorAll(".graphiql-tab-button")].some(
          (tab) => tab.textContent === "Login",
        ),
      null,
      { timeout: 10_000 },
    );
    await page.click(".graphiql-execute-button");
    // Sent until one arrives: the subscription is live once the first does.
    await until(async () => {
      await mustRequest(
        server,
        SendMessageDocument,
        { input: { channelId, body: "live in GraphiQL", clientMessageId: randomUUID() } },
        token,
      );
      return page
        .waitForFunction(
          () =>
            document
              .querySelector(".graphiql-response")
              ?.textContent?.replace(/\s+/g, " ")
              .includes("live in GraphiQL"),
          null,
          { timeout: 1000 },
        )
        .then(
          () => true,
          () => false,
        );
    }, 30_000);
    expect(await textOf(page, ".graphiql-response")).toMatch(/"username": "alice"/);
    expect(outside).toEqual([]);
  }, 90_000);
});
