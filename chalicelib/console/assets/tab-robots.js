// A project's robot accounts (Harbor's project-level robots, robot$<project>+<name>):
// the list for project admins and maintainers; for those who may manage them
// (project admins, system admins) create, refresh the secret, disable or enable,
// delete. A secret is in the answer to its create or refresh call only: the
// console shows it once, in a dialog that leaves the page when closed.
import { formatTime, h, replace, shellQuote } from "./dom.js";
import { mayManageRobots } from "./roles.js";
import {
  confirmAction,
  copyBox,
  field,
  formError,
  loadInto,
  openDialog,
  pager,
  setFormError,
  showMessage,
  table,
  whileBusy,
} from "./widgets.js";

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
  const state = { page: 1 };
  const manage = mayManageRobots(permissions);
  const list = h("div", { class: "list", id: "robot-list" });

  function refresh() {
    return loadInto(list, async () => {
      const query = { q: `Level=project,ProjectID=${project.project_id}`, page: state.page, page_size: PAGE_SIZE };
      const { data, total } = await api.get("/robots", query);
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
      return [
        table({ id: "robots-table", rows: data, empty: "No robot accounts.", columns }),
        pager({ page: state.page, pageSize: PAGE_SIZE, total: total ?? data.length, label: "Robot account pages", onChange: (n) => ((state.page = n), refresh()) }),
      ];
    });
  }

  function actions(robot) {
    const named = (text) => [text, h("span", { class: "visually-hidden" }, ` ${robot.name}`)];
    return h(
      "div",
      { class: "row-actions" },
      h("button", { type: "button", class: "secondary small robot-refresh", onclick: (e) => refreshSecret(e.currentTarget, robot) }, named("Refresh secret")),
      h(
        "button",
        { type: "button", class: "secondary small robot-toggle", onclick: (e) => setDisabled(e.currentTarget, robot, !robot.disable) },
        named(robot.disable ? "Enable" : "Disable"),
      ),
      h("button", { type: "button", class: "danger small robot-delete", onclick: (e) => remove(e.currentTarget, robot) }, named("Delete")),
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
  async function setDisabled(button, robot, disable) {
    if (disable && !(await confirmAction(`Disable ${robot.name}? It cannot log in until it is enabled again.`, "Disable"))) {
      return;
    }
    const done = await whileBusy(button, async () => {
      const { data } = await api.get(`/robots/${robot.id}`);
      await api.put(`/robots/${robot.id}`, { ...data, disable });
      return true;
    });
    if (done) {
      showMessage(disable ? `${robot.name} is disabled.` : `${robot.name} is enabled.`);
      await refresh();
    }
  }

  async function remove(button, robot) {
    if (!(await confirmAction(`Delete ${robot.name}? Whatever logs in with it will be refused.`))) {
      return;
    }
    if (await whileBusy(button, () => api.delete(`/robots/${robot.id}`).then(() => true))) {
      showMessage(`${robot.name} deleted.`);
      await refresh();
    }
  }

  if (!manage) {
    replace(container, h("p", { class: "hint" }, "Only project admins may create or change robot accounts."), list);
    return refresh();
  }

  // -- create ----------------------------------------------------------------------------------
  const error = formError();
  error.id = "robot-create-error";
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
  const create = h(
    "form",
    { class: "card", id: "robot-create", hidden: true, "aria-labelledby": "robot-create-title" },
    h("h2", { id: "robot-create-title" }, "New robot account"),
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
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", id: "robot-create-submit" }, "Create"),
      h("button", { type: "button", class: "secondary", onclick: () => toggleCreate(false) }, "Cancel"),
    ),
  );
  const open = h("button", { type: "button", id: "robot-new", onclick: () => toggleCreate(true) }, "New robot account");

  create.elements.never.addEventListener("change", () => {
    create.elements.duration.disabled = create.elements.never.checked;
  });

  function toggleCreate(show) {
    create.hidden = !show;
    open.hidden = show;
    setFormError(error, null);
    if (show) {
      create.elements.name.focus();
    } else {
      create.reset();
      create.elements.duration.disabled = false;
    }
  }

  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormError(error, null);
    const f = create.elements;
    const access = ACTIONS.filter((a) => f[a.action].checked).map((a) => ({ resource: "repository", action: a.action }));
    if (!access.length) {
      setFormError(error, new Error("Choose at least one permission."));
      return;
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
    const submit = create.querySelector("button[type=submit]");
    const answer = await whileBusy(submit, () => api.post("/robots", body), (e) => setFormError(error, e));
    if (answer) {
      toggleCreate(false);
      const shown = showSecret(`Robot account ${answer.data.name} created`, answer.data.name, answer.data.secret);
      await refresh();
      await shown;
    }
  });

  replace(container, h("div", { class: "toolbar" }, open), create, list);
  return refresh();
}
