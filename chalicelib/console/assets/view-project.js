// One project: its header and three tabs (repositories, members, logs).
import { segment } from "./api.js";
import { h, replace } from "./dom.js";
import { renderLogList } from "./logs.js";
import { roleName } from "./roles.js";
import { describe, loading } from "./widgets.js";
import { renderMembers } from "./tab-members.js";
import { renderRepositories } from "./tab-repositories.js";

const TABS = [
  { id: "repositories", title: "Repositories" },
  { id: "members", title: "Members" },
  { id: "logs", title: "Logs" },
];

export async function render(ctx, name, tab = "repositories") {
  const { api, container, setTitle } = ctx;
  setTitle(name);
  const base = `#/projects/${segment(name)}`;
  const heading = h("h1", {}, name);
  const facts = h("p", { class: "facts" });
  const nav = h(
    "nav",
    { class: "tabs", "aria-label": "Project sections" },
    h(
      "ul",
      {},
      TABS.map((t) =>
        h("li", {}, h("a", { href: `${base}/${t.id}`, id: `tab-${t.id}`, "aria-current": t.id === tab ? "page" : null }, t.title)),
      ),
    ),
  );
  const body = h("div", { class: "tab-body", id: "project-tab", "aria-busy": "true" }, loading());
  replace(
    container,
    h("nav", { class: "breadcrumbs", "aria-label": "Breadcrumbs" }, h("a", { href: "#/projects" }, "Projects"), " › ", name),
    heading,
    facts,
    nav,
    body,
  );

  let project;
  try {
    ({ data: project } = await api.get(`/projects/${segment(name)}`));
  } catch (error) {
    replace(body, h("p", { class: "error", role: "alert" }, describe(error)));
    return;
  } finally {
    body.removeAttribute("aria-busy");
  }
  const role = roleName(project.current_user_role_id);
  replace(
    facts,
    h("span", { class: "badge" }, project.metadata && project.metadata.public === "true" ? "Public" : "Private"),
    ` Owner ${project.owner_name || "—"}`,
    role ? ` · your role: ${role}` : ctx.user.sysadmin ? " · you are a system admin" : "",
  );
  const context = { ...ctx, project, container: body };
  if (tab === "members") {
    await renderMembers(context);
  } else if (tab === "logs") {
    await renderLogList({ api, container: body, path: `/projects/${segment(name)}/logs`, id: "project-logs", title: "Project log" });
  } else {
    await renderRepositories(context);
  }
}
