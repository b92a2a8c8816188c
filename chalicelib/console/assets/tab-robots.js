// A project's robot accounts (Harbor's project-level robots, robot$<project>+<name>):
// the list for project admins and maintainers; for those who may manage them
// (project admins, system admins) create, refresh the secret, disable or enable,
// delete. A secret is in the answer to its create or refresh call only: the
// console shows it once, in a dialog that leaves the page when closed.
import { formatTime, h, replace, shellQuote } from "./dom.js";
import { pagedTable, rowAction, rowButton } from "./lists.js";
import { mayManageRobots } from "./roles.js";
import { confirmAction, copyBox, createForm, field, openDialog, table, whileBusy } from "./widgets.js";

const PAGE_SIZE = 20;
const NEVER = -1; // duration and expires_at of a robot that does not expire
const MAX_DURATION_DAYS = 36600; // chalicelib/management/robots.py
// what a project robot may do with the project's repositories
const ACTIONS = [
  { action: "pull", label: "Pull", hint: "read images", checked: true },
  { action: "push", label: "Push", hint: "write images and tags" },
  { action: "delete", label: "Delete", hint: "remove repositories, artifacts and tags" },
];

export function loginCommand(name, secret) {
  return `docker login ${location.host} -u ${shellQuote(name)} -p ${shellQuote(secret)}`;
}

// "pull, push"; access to other resources than repositories is named with its resource
function permissionSummary(robot) {
  const granted = (robot.permissions || [])
    .flatMap((p) => p.access || [])
    .filter((a) => a.effect !== "deny")
    .map((a) => (a.resource === "repository" ? a.action : `${a.resource} ${a.action}`));
  return granted.length ? granted.join(", ") : "none";
}

function expired(robot) {
  return robot.expires_at !== NEVER && robot.expires_at * 1000 <= Date.now();
}

function expiry(robot) {
  if (robot.expires_at === NEVER) {
    return "Never";
  }
  const when = new Date(robot.expires_at * 1000).toLocaleString();
  return expired(robot) ? `Expired ${when}` : when;
}

function status(robot) {
  if (robot.disable) {
    return h("span", { class: "badge off" }, "Disabled");
  }
  return expired(robot) ? h("span", { class: "badge off" }, "Expired") : h("span", { class: "badge" }, "Enabled");
}

// The secret, once: with a warning, copy buttons and the docker login line.
function showSecret(title, name, secret) {
  return openDialog({
    id: "robot-secret-dialog",
    title,
    focus: "#robot-secret-value",
    content: [
      h(
        "p",
        { class: "warning", id: "robot-secret-warning" },
        "Copy the secret now: it will not be shown again. Berth keeps only a hash of it; if it is lost, refresh the secret.",
      ),
      h("p", { class: "dialog-label" }, "Name"),
      copyBox(name, { label: "robot account name", id: "robot-secret-name" }),
      h("p", { class: "dialog-label" }, "Secret"),
      copyBox(secret, { label: "secret", id: "robot-secret-value" }),
      h("p", { class: "dialog-label" }, "Log in with Docker"),
      copyBox(loginCommand(name, secret), { label: "docker login command", id: "robot-login-command" }),
      h("p", { class: "hint" }, "The single quotes keep the shell from expanding the $ in the name."),
    ],
  });
}

export function renderRobots({ api, project, permissions, container }) {
  const manage = mayManageRobots(permissions);
  const list = h("div", { class: "list", id: "robot-list" });
  const columns = [
    { title: "Name", cell: (r) => h("span", { class: "robot-name mono", dataset: { robot: r.name } }, r.name) },
    { title: "Description", cell: (r) => r.description || "—" },
    { title: "Permissions", cell: (r) => h("span", { class: "robot-permissions" }, permissionSummary(r)) },
    { title: "Expires", class: "time", cell: (r) => h("span", { class: "robot-expiry" }, expiry(r)) },
    { title: "Status", cell: (r) => h("span", { class: "robot-status" }, status(r)) },
    { title: "Created", class: "time", cell: (r) => formatTime(r.creation_time) },
  ];
  if (manage) {
    columns.push({ title: "Actions", cell: actions });
  }

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "Robot account pages",
    load: (query) => api.get("/robots", { q: `Level=project,ProjectID=${project.project_id}`, ...query }),
    render: (rows) => table({ id: "robots-table", rows, empty: "No robot accounts.", columns }),
  });

  function actions(robot) {
    return h(
      "div",
      { class: "row-actions" },
      rowButton("Refresh secret", robot.name, (button) => refreshSecret(button, robot), { kind: "secondary", className: "robot-refresh" }),
      rowButton(robot.disable ? "Enable" : "Disable", robot.name, (button) => setDisabled(button, robot, !robot.disable), {
        kind: "secondary",
        className: "robot-toggle",
      }),
      rowButton("Delete", robot.name, (button) => remove(button, robot), { className: "robot-delete" }),
    );
  }

  async function refreshSecret(button, robot) {
    const text = `Give ${robot.name} a new secret? The current one stops working at once.`;
    if (!(await confirmAction(text, "Refresh secret"))) {
      return;
    }
    // an empty body: the API generates the new secret
    const answer = await whileBusy(button, () => api.patch(`/robots/${robot.id}`, {}));
    if (answer) {
      await showSecret(`New secret for ${robot.name}`, robot.name, answer.data.secret);
    }
  }

  // PUT carries the whole robot, as GET answers it: read it fresh, flip the flag
  function setDisabled(button, robot, disable) {
    return rowAction(button, {
      question: disable ? `Disable ${robot.name}? It cannot log in until it is enabled again.` : null,
      confirmLabel: "Disable",
      run: async () => {
        const { data } = await api.get(`/robots/${robot.id}`);
        await api.put(`/robots/${robot.id}`, { ...data, disable });
      },
      message: disable ? `${robot.name} is disabled.` : `${robot.name} is enabled.`,
      refresh: pages.refresh,
    });
  }

  function remove(button, robot) {
    return rowAction(button, {
      question: `Delete ${robot.name}? Whatever logs in with it will be refused.`,
      run: () => api.delete(`/robots/${robot.id}`),
      message: `${robot.name} deleted.`,
      refresh: pages.refresh,
    });
  }

  if (!manage) {
    replace(container, h("p", { class: "hint" }, "Only project admins may create or change robot accounts."), list);
    return pages.refresh();
  }

  // -- create ----------------------------------------------------------------------------------
  const days = field("Expires after (days)", {
    name: "duration",
    id: "robot-duration",
    type: "number",
    min: 1,
    max: MAX_DURATION_DAYS,
    step: 1,
    hint: "Empty: the system's default (robot_token_duration).",
  });
  const never = field("Never expires", { name: "never", id: "robot-never", type: "checkbox" });
  const create = createForm({
    name: "robot",
    title: "New robot account",
    focus: "name",
    content: [
      h(
        "div",
        { class: "fields" },
        field("Name", {
          name: "name",
          id: "robot-name",
          required: true,
          maxlength: 255,
          autocomplete: "off",
          spellcheck: "false",
          hint: `Lower case letters and digits, with single '.', '_' or '-' between them; the account is robot$${project.name}+<name>.`,
        }),
        field("Description", { name: "description", id: "robot-description", maxlength: 1024, autocomplete: "off" }),
        days,
      ),
      never,
      h(
        "fieldset",
        { class: "choices" },
        h("legend", {}, `Permissions in ${project.name}'s repositories`),
        ACTIONS.map((a) => field(`${a.label} (${a.hint})`, { name: a.action, id: `robot-${a.action}`, type: "checkbox", checked: Boolean(a.checked) })),
      ),
    ],
    send: (f) => {
      const access = ACTIONS.filter((a) => f[a.action].checked).map((a) => ({ resource: "repository", action: a.action }));
      if (!access.length) {
        throw new Error("Choose at least one permission.");
      }
      const body = {
        name: f.name.value.trim(),
        description: f.description.value.trim(),
        level: "project",
        permissions: [{ kind: "project", namespace: project.name, access }],
      };
      if (f.never.checked) {
        body.duration = NEVER;
      } else if (f.duration.value !== "") {
        body.duration = Number(f.duration.value);
      }
      return api.post("/robots", body);
    },
    sent: async (answer) => {
      const shown = showSecret(`Robot account ${answer.data.name} created`, answer.data.name, answer.data.secret);
      await pages.refresh();
      await shown;
    },
  });

  const f = create.form.elements;
  f.never.addEventListener("change", () => {
    f.duration.disabled = f.never.checked;
  });
  // closed, the form is reset: "Never expires" unticked, so the duration is open again
  create.form.addEventListener("reset", () => {
    f.duration.disabled = false;
  });

  replace(container, h("div", { class: "toolbar" }, create.opener), create.form, list);
  return pages.refresh();
}
