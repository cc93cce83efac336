// The one place requests are made: the browser's session cookie, Django's CSRF token on every
// write, and every failure turned into an ApiError carrying the server's own message, so pages
// can show it as it is. The resource modules beside this one (projects, images, annotations, …)
// hold the URLs; pages call them and never build a URL themselves.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A page of a DRF paginated list. */
interface Page<T> {
  count: number;
  next?: string | null;
  results: T[];
}

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** The server's message: DRF's {"detail": ...} or the first field error. */
export function messageOf(body: unknown, fallback: string): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") return record.detail;
    for (const [field, value] of Object.entries(record)) {
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === "string") return field === "non_field_errors" ? first : `${field}: ${first}`;
    }
  }
  return fallback;
}

export function safeJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 200) };
  }
}

async function request<T>(method: string, url: string, body?: BodyInit, json = false): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (json) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, body, credentials: "same-origin", headers });
  const text = await response.text();
  const parsed: unknown = text ? safeJSON(text) : null;
  if (!response.ok) {
    const record = parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
    throw new ApiError(response.status, messageOf(parsed, `${response.status} ${response.statusText}`), record);
  }
  return parsed as T;
}

export const getJSON = <T>(url: string): Promise<T> => request<T>("GET", url);
export const postJSON = <T>(url: string, body: unknown): Promise<T> =>
  request<T>("POST", url, JSON.stringify(body), true);
export const patchJSON = <T>(url: string, body: unknown): Promise<T> =>
  request<T>("PATCH", url, JSON.stringify(body), true);
export const deleteJSON = <T>(url: string): Promise<T> => request<T>("DELETE", url);
export const postForm = <T>(url: string, form: FormData): Promise<T> => request<T>("POST", url, form);

/** Every item of a paginated list, following `next` links. */
export async function allPages<T>(url: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | null = url;
  while (next) {
    const page: Page<T> = await getJSON(next);
    items.push(...page.results);
    next = page.next ?? null;
  }
  return items;
}

/** `path` with a query string of the defined values ("" when there are none). */
export function withQuery(path: string, query: Record<string, string | number | undefined> | [string, string][]): string {
  const entries = Array.isArray(query)
    ? query
    : Object.entries(query).flatMap(([key, value]): [string, string][] => (value === undefined ? [] : [[key, String(value)]]));
  const params = new URLSearchParams(entries).toString();
  return params ? `${path}?${params}` : path;
}
