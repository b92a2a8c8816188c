// The console's entry point: the session, the header bar and a hash router
// (#/projects, #/projects/<name>/members, ...), so every page is this one file
// set and the server needs no fallback route.
import { Api } from "./api.js";
import { h, replace } from "./dom.js";
import { clearMessages, describe, errorNote, showError, showMessage } from "./widgets.js";
import * as audit from "./view-audit.js";
import * as configuration from "./view-configuration.js";
import * as garbage from "./view-gc.js";
import * as login from "./view-login.js";
import * as project from "./view-project.js";
import * as projects from "./view-projects.js";
import * as replication from "./view-replication.js";
import * as repository from "./view-repository.js";
import * as users from "./view-users.js";

const ROUTES = [
  { pattern: /^\/projects$/, section: "projects", render: projects.render },
  { pattern: /^\/projects\/([^/]+)\/repositories\/(.+)$/, section: "projects", render: repository.render },
  { pattern: /^\/projects\/([^/]+)(?:\/(repositories|members|robots|webhooks|immutability|retention|logs))?$/, section: "projects", render: project.render },
  { pattern: /^\/users$/, section: "users", render: users.render, admin: true },
  { pattern: /^\/logs$/, section: "logs", render: audit.render, admin: true },
  { pattern: /^\/replication$/, section: "replication", render: replication.render, admin: true },
  { pattern: /^\/gc$/, section: "gc", render: garbage.render, admin: true },
  { pattern: /^\/configuration$/, section: "configuration", render: configuration.render, admin: true },
];
const HOME = "/projects";

const view = document.getElementById("view");
const state = { user: null, returnTo: null };
const api = new Api({ onUnauthorized: () => sessionEnded() });

function currentPath() {
  const path = location.hash.replace(/^#/, "");
  return path.startsWith("/") ? path : "/";
}

export function navigate(path) {
  if (currentPath() === path) {
    route();
  } else {
    location.hash = "#" + path;
  }
}

function updateHeader() {
  const user = state.user;
  document.getElementById("nav").hidden = !user;
  document.getElementById("account").hidden = !user;
  for (const item of document.querySelectorAll(".admin-only")) {
    item.hidden = !(user && user.sysadmin);
  }
  document.getElementById("current-user").textContent = user ? user.username : "";
  document.getElementById("current-role").textContent = user && user.sysadmin ? " (system admin)" : "";
}

function markSection(section) {
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
}

function page(title) {
  document.title = title ? `${title} · Berth` : "Berth";
  const section = h("section", { class: "page" });
  replace(view, section);
  return section;
}

function showLogin(notice) {
  markSection(null);
  const section = page("Log in");
  login.render({ api, container: section, notice, onLogin });
}

function onLogin(user) {
  state.user = user;
  updateHeader();
  clearMessages();
  const target = state.returnTo && state.returnTo !== "/login" ? state.returnTo : HOME;
  state.returnTo = null;
  navigate(target);
}

// A request met 401: the session expired or was ended elsewhere.
function sessionEnded() {
  if (!state.user) {
    return;
  }
  state.user = null;
  state.returnTo = currentPath();
  updateHeader();
  clearMessages();
  showLogin("Your session has ended. Log in again to continue.");
}

async function logOut() {
  try {
    await api.logout();
  } catch (error) {
    showError(error);
    return;
  }
  state.user = null;
  state.returnTo = null;
  updateHeader();
  clearMessages();
  if (currentPath() === "/login") {
    route();
  } else {
    location.hash = "#/login";
  }
}

async function route() {
  const path = currentPath();
  if (!state.user) {
    if (path !== "/login" && path !== "/") {
      state.returnTo = path;
    }
    showLogin();
    return;
  }
  if (path === "/login" || path === "/") {
    navigate(HOME);
    return;
  }
  clearMessages();
  for (const entry of ROUTES) {
    const found = entry.pattern.exec(path);
    if (!found) {
      continue;
    }
    markSection(entry.section);
    const section = page(null);
    if (entry.admin && !state.user.sysadmin) {
      section.append(h("h1", {}, "Not allowed"), h("p", { class: "error" }, "Only system administrators may see this page."));
      return;
    }
    const args = found.slice(1).map((part) => (part === undefined ? undefined : decodeURIComponent(part)));
    const context = { api, user: state.user, container: section, navigate, setTitle: (t) => (document.title = `${t} · Berth`) };
    try {
      await entry.render(context, ...args);
    } catch (error) {
      showError(error);
    }
    return;
  }
  markSection(null);
  const section = page("Not found");
  section.append(h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#" + HOME }, "Go to the projects")));
}

async function start() {
  document.getElementById("logout").addEventListener("click", logOut);
  window.addEventListener("hashchange", () => {
    route();
    view.focus({ preventScroll: true });
  });
  try {
    state.user = await api.currentUser();
  } catch (error) {
    const retry = h("button", { type: "button", onclick: () => location.reload() }, "Try again");
    replace(view, h("section", { class: "page" }, h("h1", {}, "Berth is not answering"), errorNote(error), retry));
    return;
  }
  updateHeader();
  route();
}

window.addEventListener("unhandledrejection", (event) => {
  showMessage(`Unexpected error: ${describe(event.reason)}`, "error");
});

start();
