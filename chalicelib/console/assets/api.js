// The management API (Harbor's /api/v2.0) and the console session (/c/login),
// both addressed relative to the page, which always lives at <origin>/v2/ui/.
//
// The session is an HttpOnly cookie the browser sends by itself; what the page
// keeps is the CSRF token, in memory only, refreshed from every response's
// X-Harbor-CSRF-Token header and sent back on every state-changing request.

const API_BASE = "../api/v2.0";
const LOGIN = "../c/login";
const LOGOUT = "../c/log_out";
const CSRF_HEADER = "X-Harbor-CSRF-Token";
const CHANGES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

// Harbor's error body {"errors":[{"code","message"}]}, API Gateway's
// {"message"}, or whatever text came back: always something a person can read.
async function errorFrom(response) {
  const text = await response.text().catch(() => "");
  let code = `HTTP_${response.status}`;
  let message = "";
  try {
    const body = JSON.parse(text);
    const first = Array.isArray(body.errors) ? body.errors[0] : null;
    if (first) {
      code = first.code || code;
      message = body.errors.map((e) => e.message || e.code).filter(Boolean).join("; ");
    } else if (typeof body.message === "string") {
      message = body.message;
    }
  } catch {
    message = text.trim().slice(0, 300);
  }
  if (!message) {
    message = `${response.status} ${response.statusText || "error"}`.trim();
  }
  return new ApiError(response.status, code, message);
}

export class Api {
  // onUnauthorized(error): called when a request that needs a session gets 401
  constructor({ onUnauthorized = () => {}, fetchImpl = (...args) => window.fetch(...args) } = {}) {
    this.csrfToken = null;
    this.onUnauthorized = onUnauthorized;
    this.fetchImpl = fetchImpl;
  }

  async send(method, url, { body, headers = {} } = {}) {
    const all = { Accept: "application/json", ...headers };
    if (CHANGES.has(method) && this.csrfToken) {
      all[CSRF_HEADER] = this.csrfToken;
    }
    let response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: all,
        body,
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "NETWORK", "The server could not be reached. Check your connection and try again.");
    }
    const token = response.headers.get(CSRF_HEADER);
    if (token) {
      this.csrfToken = token;
    }
    return response;
  }

  // One call of the management API: path below /api/v2.0, query as an object.
  // Resolves to {data, total}; rejects with an ApiError.
  async request(method, path, { query, json, quiet401 = false } = {}) {
    let url = API_BASE + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null && value !== "") {
          params.set(key, String(value));
        }
      }
      const text = params.toString();
      if (text) {
        url += "?" + text;
      }
    }
    const options = {};
    if (json !== undefined) {
      options.body = JSON.stringify(json);
      options.headers = { "Content-Type": "application/json" };
    }
    const response = await this.send(method, url, options);
    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401 && !quiet401) {
        this.csrfToken = null;
        this.onUnauthorized(error);
      }
      throw error;
    }
    const total = response.headers.get("X-Total-Count");
    const type = response.headers.get("Content-Type") || "";
    const text = method === "HEAD" ? "" : await response.text();
    const data = text && type.includes("json") ? JSON.parse(text) : null;
    return { data, text, total: total === null ? null : Number(total) };
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, json, query) {
    return this.request("POST", path, { json, query });
  }

  put(path, json) {
    return this.request("PUT", path, { json });
  }

  patch(path, json) {
    return this.request("PATCH", path, { json });
  }

  delete(path) {
    return this.request("DELETE", path);
  }

  // What the caller may do in a project, as Harbor's console asks it: a Set of
  // "resource:action" ("robot:create", "member:list", ...).
  async projectPermissions(projectId) {
    const { data } = await this.get("/users/current/permissions", { scope: `/project/${projectId}`, relative: true });
    return new Set((data || []).map((p) => `${p.resource}:${p.action}`));
  }

  // -- the session -------------------------------------------------------------------------
  // {username, sysadmin} for a live session, null when there is none
  async currentUser() {
    try {
      const { data } = await this.request("GET", "/users/current", { quiet401: true });
      return { username: data.username, sysadmin: Boolean(data.sysadmin_flag) };
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        return null;
      }
      throw error;
    }
  }

  async login(principal, password) {
    const form = new URLSearchParams({ principal, password });
    const response = await this.send("POST", LOGIN, {
      body: form,
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    if (!response.ok) {
      throw await errorFrom(response);
    }
    const data = await response.json().catch(() => ({}));
    return { username: data.username || principal, sysadmin: Boolean(data.sysadmin) };
  }

  async logout() {
    const response = await this.send("GET", LOGOUT);
    this.csrfToken = null;
    if (!response.ok) {
      throw await errorFrom(response);
    }
  }
}

// Path segments of the API, percent-encoded (a nested repository name keeps
// its slashes encoded as %2F, as Harbor's own console sends it).
export function segment(value) {
  return encodeURIComponent(value);
}
