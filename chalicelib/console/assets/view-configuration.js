// The runtime configuration (system administrators) as a form. Save sends only
// the keys whose value changed (PUT /configurations); the API checks all of them,
// the LDAP settings as a whole, before it writes any, and answers 400 with the
// reason. ldap_search_password is never answered: its field starts empty and is
// sent only when filled in.
// What each setting is (its type, bounds, choices, whether it is a secret) comes from
// the API's own OpenAPI document, which renders the one settings table
// (chalicelib/runtime_config.py SETTINGS); this file only says how to present them:
// sections, labels, hints and the names of choices. A setting the table has and this
// file does not name still appears, under "Other settings".
import { h, replace } from "./dom.js";
import { describe, field, formError, loadInto, setFormError, showMessage, whileBusy } from "./widgets.js";

const TEXT = "text";
const INTEGER = "integer";
const BOOLEAN = "boolean";
const SECRET = "secret";

const SECTIONS = [
  {
    title: "Authentication",
    settings: [
      {
        key: "auth_mode",
        label: "Authentication mode",
        choices: { db_auth: "Database", ldap_auth: "LDAP" },
        hint: "With LDAP, people log in with their directory account (admin and existing local users keep their passwords) and users are no longer created here.",
      },
      { key: "self_registration", label: "Allow self-registration" },
    ],
  },
  {
    title: "LDAP",
    hint: "Used in LDAP mode. When the mode or any of these change, the LDAP settings are checked as a whole.",
    settings: [
      { key: "ldap_url", label: "LDAP URL", hint: "ldap://host:389 or ldaps://host:636" },
      { key: "ldap_search_dn", label: "Search DN", hint: "The account that searches for users; empty: anonymous." },
      { key: "ldap_search_password", label: "Search password", hint: "Never shown; leave empty to keep the stored one." },
      { key: "ldap_base_dn", label: "Base DN" },
      { key: "ldap_uid", label: "UID attribute", hint: "Holds the username: uid, cn, sAMAccountName…" },
      { key: "ldap_filter", label: "User filter", hint: "Added to the search, e.g. (objectClass=person)." },
      { key: "ldap_scope", label: "Search scope", choices: { 0: "Base", 1: "One level", 2: "Subtree" } },
      { key: "ldap_timeout", label: "Timeout (seconds)" },
      { key: "ldap_verify_cert", label: "Verify the server's certificate" },
      { key: "ldap_start_tls", label: "Use StartTLS (ldap:// URLs only)" },
    ],
  },
  {
    title: "LDAP groups",
    settings: [
      { key: "ldap_group_base_dn", label: "Group base DN", hint: "Empty: groups are not searched." },
      { key: "ldap_group_search_filter", label: "Group filter" },
      { key: "ldap_group_membership_attribute", label: "Membership attribute (on users)", hint: "Names a user's groups, e.g. memberOf; empty: not read." },
      { key: "ldap_group_member_attribute", label: "Member attribute (on groups)", hint: "Names a group's members, e.g. member." },
    ],
  },
  {
    title: "System",
    settings: [
      {
        key: "project_creation_restriction",
        label: "Who may create projects",
        choices: { adminonly: "System administrators only", everyone: "Every user" },
      },
      { key: "token_expiration", label: "Registry token lifetime (minutes)" },
      { key: "robot_token_duration", label: "Default robot account lifetime (days)" },
      { key: "audit_log_retention_days", label: "Audit log retention (days)" },
      { key: "session_timeout", label: "Console session timeout (minutes)", hint: "Counted from a session's last use." },
    ],
  },
  {
    title: "Login throttling",
    hint: "Repeated failed logins wait longer and longer; a source an account logged in from before is exempt from the account's own limit.",
    settings: [
      { key: "login_throttle_enabled", label: "Slow down repeated failed logins" },
      { key: "login_failures_before_delay", label: "Failures of one account from one source before delays" },
      { key: "login_source_failures_before_delay", label: "Failures from one source, any accounts, before delays" },
      { key: "login_account_failures_before_delay", label: "Failures of one account, any sources, before delays" },
      { key: "login_max_delay_seconds", label: "Longest delay (seconds)" },
      { key: "login_failure_window_minutes", label: "Failures are forgotten after (minutes)" },
      { key: "failed_login_audit_per_minute", label: "Failed-login audit entries per minute" },
    ],
  },
];
const NAMED = new Set(SECTIONS.flatMap((s) => s.settings.map((setting) => setting.key)));

// the body schema of PUT /configurations in the API's OpenAPI document: key -> JSON Schema
function settingSchemas(openapi) {
  const put = openapi?.paths?.["/configurations"]?.put;
  return put?.requestBody?.content?.["application/json"]?.schema?.properties || {};
}

// a setting as the form needs it: what it is (from the schema) and how it is shown
function settingOf(presentation, schema) {
  const type = schema.writeOnly ? SECRET : schema.type === "boolean" ? BOOLEAN : schema.type === "integer" ? INTEGER : TEXT;
  const choices = presentation.choices || {};
  return {
    key: presentation.key,
    label: presentation.label || presentation.key,
    hint: presentation.hint || schema.description,
    type,
    min: schema.minimum,
    max: schema.maximum,
    maxLength: schema.maxLength,
    options: schema.enum ? schema.enum.map((value) => [value, choices[value] || String(value)]) : undefined,
  };
}

function sectionsFor(schemas) {
  const known = (p) => p.key in schemas;
  const sections = SECTIONS.map((section) => ({
    ...section,
    settings: section.settings.filter(known).map((p) => settingOf(p, schemas[p.key])),
  }));
  const others = Object.keys(schemas)
    .filter((key) => !NAMED.has(key))
    .sort()
    .map((key) => settingOf({ key }, schemas[key]));
  if (others.length) {
    sections.push({ title: "Other settings", settings: others });
  }
  return sections;
}

function valueOf(entry) {
  return entry && typeof entry === "object" && "value" in entry ? entry.value : entry;
}

function control(setting) {
  const props = { id: `config-${setting.key}`, name: setting.key, hint: setting.hint };
  if (setting.type === BOOLEAN) {
    return field(setting.label, { ...props, type: "checkbox" });
  }
  if (setting.options) {
    return field(setting.label, props, setting.options.map(([value, label]) => ({ value: String(value), label })));
  }
  if (setting.type === INTEGER) {
    return field(setting.label, { ...props, type: "number", required: true, min: setting.min, max: setting.max, step: 1 });
  }
  if (setting.type === SECRET) {
    return field(setting.label, { ...props, type: "password", autocomplete: "new-password", placeholder: "(unchanged)" });
  }
  return field(setting.label, { ...props, autocomplete: "off", spellcheck: "false", maxlength: setting.maxLength });
}

function read(setting, element) {
  if (setting.type === BOOLEAN) {
    return element.checked;
  }
  if (setting.type === INTEGER) {
    return element.value.trim() === "" ? Number.NaN : Number(element.value);
  }
  return setting.type === SECRET ? element.value : element.value.trim();
}

function write(setting, element, value) {
  if (setting.type === BOOLEAN) {
    element.checked = Boolean(value);
    return;
  }
  const text = setting.type === SECRET || value === null || value === undefined ? "" : String(value);
  if (setting.options && ![...element.options].some((o) => o.value === text)) {
    element.append(h("option", { value: text }, text || "(not set)")); // a stored value the form does not know
  }
  element.value = text;
}

function renderForm(api, data, schemas, reload) {
  const sections = sectionsFor(schemas);
  // the settings the API answered, and the password it never answers
  const present = (setting) => setting.type === SECRET || setting.key in data;
  const loaded = Object.fromEntries(Object.entries(data).map(([key, entry]) => [key, valueOf(entry)]));
  const error = formError();
  error.id = "configuration-error";
  const pending = h("p", { class: "hint", id: "configuration-pending", role: "status" });
  const save = h("button", { type: "submit", id: "configuration-save" }, "Save");
  const discard = h("button", { type: "button", class: "secondary", id: "configuration-discard" }, "Discard changes");
  const form = h(
    "form",
    { id: "configuration-form", "aria-describedby": "configuration-pending" },
    sections.map((section) => {
      const settings = section.settings.filter(present);
      if (!settings.length) {
        return null;
      }
      return h(
        "fieldset",
        { class: "card settings" },
        h("legend", {}, section.title),
        section.hint ? h("p", { class: "hint" }, section.hint) : null,
        h("div", { class: "fields" }, settings.map(control)),
      );
    }),
    error,
    h("div", { class: "actions sticky" }, save, discard, pending),
  );
  const settings = sections.flatMap((s) => s.settings).filter(present);
  const element = (setting) => form.elements[setting.key];

  function changes() {
    const out = {};
    for (const setting of settings) {
      const value = read(setting, element(setting));
      if (setting.type === SECRET ? value !== "" : value !== loaded[setting.key]) {
        out[setting.key] = value;
      }
    }
    return out;
  }

  function showPending() {
    const changed = changes();
    for (const setting of settings) {
      element(setting).closest(".field").classList.toggle("changed", setting.key in changed);
    }
    const count = Object.keys(changed).length;
    pending.textContent = count ? `${count} unsaved ${count === 1 ? "change" : "changes"}` : "No unsaved changes";
    discard.disabled = count === 0;
  }

  function markInvalid(message) {
    for (const setting of settings) {
      if (message && message.includes(setting.key)) {
        element(setting).setAttribute("aria-invalid", "true");
      } else {
        element(setting).removeAttribute("aria-invalid");
      }
    }
  }

  function fill() {
    for (const setting of settings) {
      write(setting, element(setting), loaded[setting.key]);
    }
    setFormError(error, null);
    markInvalid(null);
    showPending();
  }

  form.addEventListener("input", showPending);
  form.addEventListener("change", showPending);
  discard.addEventListener("click", fill);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormError(error, null);
    markInvalid(null);
    const changed = changes();
    const keys = Object.keys(changed);
    if (!keys.length) {
      showMessage("Nothing to save: no setting has changed.");
      return;
    }
    const refuse = (e) => {
      setFormError(error, { message: `Nothing was saved. ${describe(e)}` });
      markInvalid(describe(e));
    };
    if (await whileBusy(save, () => api.put("/configurations", changed).then(() => true), refuse)) {
      showMessage(`Configuration saved (${keys.join(", ")}).`);
      await reload();
    }
  });
  fill();
  return form;
}

export function render({ api, container, setTitle }) {
  setTitle("Configuration");
  const body = h("div", { class: "list", id: "configuration" });
  const reload = () =>
    loadInto(body, async () => {
      const [config, openapi] = await Promise.all([api.get("/configurations"), api.get("/openapi.json")]);
      return renderForm(api, config.data || {}, settingSchemas(openapi.data), reload);
    });
  replace(
    container,
    h("h1", {}, "Configuration"),
    h("p", { class: "hint" }, "A saved change applies here at once and everywhere within a minute."),
    body,
  );
  return reload();
}
