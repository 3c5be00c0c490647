// The seed is a client of the public API, like any frontend: one POST per operation, and
// a GraphQL error becomes an exception that keeps its extensions.code, so the seed can
// tell "already exists" from a real failure.

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export type Api = <T>(
  query: string,
  variables?: Record<string, unknown>,
  token?: string,
) => Promise<T>;

export function apiAt(url: string): Api {
  return async function call<T>(
    query: string,
    variables: Record<string, unknown> = {},
    token?: string,
  ): Promise<T> {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as {
      data?: unknown;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    };
    const error = body.errors?.[0];
    if (error) throw new ApiError(error.message, error.extensions?.code);
    if (!body.data) throw new ApiError(`HTTP ${response.status} without data`, undefined);
    return body.data as T;
  };
}

/** Whether a GraphQL server answers at `url` (a short wait: nothing listening is the usual answer). */
export async function answersGraphQL(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __typename }" }),
      signal: AbortSignal.timeout(3000),
    });
    const body = (await response.json()) as { data?: { __typename?: string } };
    return body.data?.__typename === "Query";
  } catch {
    return false;
  }
}
