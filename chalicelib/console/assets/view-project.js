// One project: its header and tabs (repositories, members, robot accounts, webhooks,
// tag immutability, tag retention, logs).
// The robot accounts tab shows for those who may list them (project admins,
// maintainers, system admins), as the caller's permissions in the project say; the
// webhooks tab likewise.
import { segment } from "./api.js";
import { formatBytes, h, replace } from "./dom.js";
import { renderLogList } from "./logs.js";
import { mayListImmutability, mayListRetention, mayListRobots, mayListWebhooks, roleLabel } from "./roles.js";
import { errorNote, loading } from "./widgets.js";
import { renderImmutability } from "./tab-immutability.js";
import { renderMembers } from "./tab-members.js";
import { renderRepositories } from "./tab-repositories.js";
import { renderRetention } from "./tab-retention.js";
import { renderRobots } from "./tab-robots.js";
import { renderWebhooks } from "./tab-webhooks.js";

const TABS = [
  { id: "repositories", title: "Repositories" },
  { id: "members", title: "Members" },
  { id: "robots", title: "Robot accounts", shown: mayListRobots },
  { id: "webhooks", title: "Webhooks", shown: mayListWebhooks },
  { id: "immutability", title: "Tag immutability", shown: mayListImmutability },
  { id: "retention", title: "Tag retention", shown: mayListRetention },
  { id: "logs", title: "Logs" },
];

export async function render(ctx, name, tab = "repositories") {
  const { api, container, setTitle } = ctx;
  setTitle(name);
  const base = `#/projects/${segment(name)}`;
  const heading = h("h1", {}, name);
  const facts = h("p", { class: "facts" });
  const quotaFact = h("span", { class: "quota", id: "project-quota" });
  const nav = h(
    "nav",
    { class: "tabs", "aria-label": "Project sections" },
    h(
      "ul",
      {},
      TABS.map((t) =>
        h(
          "li",
          { hidden: Boolean(t.shown) && t.id !== tab, dataset: { tab: t.id } },
          h("a", { href: `${base}/${t.id}`, id: `tab-${t.id}`, "aria-current": t.id === tab ? "page" : null }, t.title),
        ),
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
  let permissions;
  try {
    ({ data: project } = await api.get(`/projects/${segment(name)}`));
    permissions = await api.projectPermissions(project.project_id);
  } catch (error) {
    replace(body, errorNote(error));
    return;
  } finally {
    body.removeAttribute("aria-busy");
  }
  replace(
    facts,
    h("span", { class: "badge" }, project.metadata && project.metadata.public === "true" ? "Public" : "Private"),
    ` Owner ${project.owner_name || "—"} · your role: `,
    h("span", { class: "role-label" }, roleLabel(ctx.user, project)),
    quotaFact,
  );
  // the storage its manifests name (each blob once) against its limit, from the summary
  api
    .get(`/projects/${project.project_id}/summary`)
    .then(({ data }) => {
      const quota = data && data.quota;
      if (quota) {
        const hard = quota.hard.storage;
        replace(quotaFact, ` · storage ${formatBytes(quota.used.storage)} of ${hard < 0 ? "unlimited" : formatBytes(hard)}`);
      }
    })
    .catch(() => {});
  // the tab asked for stays, so its "not allowed" has a place
  for (const t of TABS.filter((t) => t.shown && t.id !== tab)) {
    nav.querySelector(`li[data-tab="${t.id}"]`).hidden = !t.shown(permissions);
  }
  const context = { ...ctx, project, permissions, container: body };
  if (tab === "members") {
    await renderMembers(context);
  } else if (tab === "robots") {
    await renderRobots(context);
  } else if (tab === "webhooks") {
    await renderWebhooks(context);
  } else if (tab === "immutability") {
    await renderImmutability(context);
  } else if (tab === "retention") {
    await renderRetention(context);
  } else if (tab === "logs") {
    await renderLogList({ api, container: body, path: `/projects/${segment(name)}/logs`, id: "project-logs", title: "Project log" });
  } else {
    await renderRepositories(context);
  }
}
