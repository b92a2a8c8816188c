// A project's webhooks (Harbor's notification policies, docs/webhooks.md): the
// policies with their target and events, and for each its latest deliveries;
// for those who may manage them (project admins, system admins) create, enable or
// disable, test and delete. Secrets (the auth header, the signing secret) are
// sent, never shown: the API answers "******" for a set one.
import { formatTime, h, replace } from "./dom.js";
import { pagedTable, rowAction, rowButton } from "./lists.js";
import { mayManageWebhooks } from "./roles.js";
import { createForm, field, loadInto, showMessage, table, whileBusy } from "./widgets.js";
import { segment } from "./api.js";

const PAGE_SIZE = 20;
const EVENTS = [
  { type: "PUSH_ARTIFACT", label: "Artifact pushed", checked: true },
  { type: "PULL_ARTIFACT", label: "Artifact pulled" },
  { type: "DELETE_ARTIFACT", label: "Artifact deleted", checked: true },
  { type: "QUOTA_WARNING", label: "Quota near its limit" },
  { type: "REPLICATION", label: "Replication finished" },
];

function enabledBadge(policy) {
  return policy.enabled ? h("span", { class: "badge" }, "Enabled") : h("span", { class: "badge off" }, "Disabled");
}

function statusBadge(status) {
  return h("span", { class: status === "Success" ? "badge" : "badge off" }, status);
}

export function renderWebhooks({ api, project, permissions, container }) {
  const manage = mayManageWebhooks(permissions);
  const base = `/projects/${segment(project.name)}/webhook/policies`;
  const list = h("div", { class: "list", id: "webhook-list" });
  const deliveries = h("section", { id: "webhook-deliveries", "aria-live": "polite" });
  const columns = [
    { title: "Name", cell: (p) => h("span", { class: "webhook-name", dataset: { policy: p.name } }, p.name) },
    { title: "Target", cell: (p) => h("span", { class: "mono webhook-address" }, p.targets.map((t) => `${t.type} ${t.address}`).join(", ")) },
    { title: "Format", cell: (p) => p.targets.map((t) => t.payload_format || "Default").join(", ") },
    { title: "Events", cell: (p) => h("span", { class: "webhook-events" }, p.event_types.join(", ")) },
    { title: "Status", cell: (p) => h("span", { class: "webhook-status" }, enabledBadge(p)) },
    { title: "Created", class: "time", cell: (p) => formatTime(p.creation_time) },
    { title: "Actions", cell: actions },
  ];

  const pages = pagedTable({
    container: list,
    pageSize: PAGE_SIZE,
    label: "Webhook pages",
    load: (query) => api.get(base, query),
    render: (rows) => table({ id: "webhooks-table", rows, empty: "No webhooks.", columns }),
  });

  function actions(policy) {
    const buttons = [
      rowButton("Deliveries", policy.name, () => showDeliveries(policy), { kind: "secondary", className: "webhook-deliveries" }),
    ];
    if (manage) {
      buttons.push(
        rowButton("Test", policy.name, (button) => test(button, policy), { kind: "secondary", className: "webhook-test" }),
        rowButton(policy.enabled ? "Disable" : "Enable", policy.name, (button) => setEnabled(button, policy, !policy.enabled), {
          kind: "secondary",
          className: "webhook-toggle",
        }),
        rowButton("Delete", policy.name, (button) => remove(button, policy), { className: "webhook-delete" }),
      );
    }
    return h("div", { class: "row-actions" }, buttons);
  }

  // the latest executions: one per event, with how its deliveries went
  function showDeliveries(policy) {
    return loadInto(deliveries, async () => {
      const { data } = await api.get(`${base}/${policy.id}/executions`, { page_size: 10 });
      return [
        h("h2", { id: "webhook-deliveries-title" }, `Latest deliveries of ${policy.name}`),
        table({
          id: "webhook-deliveries-table",
          rows: data,
          empty: "No deliveries yet.",
          columns: [
            { title: "Event", cell: (r) => h("span", { class: "delivery-event" }, r.extra_attrs.event_type) },
            { title: "Status", cell: (r) => h("span", { class: "delivery-status" }, statusBadge(r.status)) },
            { title: "Targets", cell: (r) => `${r.metrics.success_task_count} of ${r.metrics.task_count} delivered` },
            { title: "Started", class: "time", cell: (r) => formatTime(r.start_time) },
            { title: "Message", cell: (r) => r.status_message || "—" },
          ],
        }),
      ];
    });
  }

  async function test(button, policy) {
    const answer = await whileBusy(button, () => api.post(`${base}/test`, { policy_id: policy.id }));
    if (answer) {
      const said = answer.data.map((r) => (r.status_code ? `${r.address} answered ${r.status_code}` : `${r.address}: ${r.error}`));
      const ok = answer.data.every((r) => r.status_code >= 200 && r.status_code < 300);
      showMessage(`Test event sent. ${said.join("; ")}`, ok ? "info" : "error");
    }
  }

  // PUT carries the whole policy, as GET answers it (secrets as "******", which keeps them)
  function setEnabled(button, policy, enabled) {
    return rowAction(button, {
      question: enabled ? null : `Disable ${policy.name}? Its receivers get no events until it is enabled again.`,
      confirmLabel: "Disable",
      run: async () => {
        const { data } = await api.get(`${base}/${policy.id}`);
        await api.put(`${base}/${policy.id}`, { ...data, enabled });
      },
      message: enabled ? `${policy.name} is enabled.` : `${policy.name} is disabled.`,
      refresh: pages.refresh,
    });
  }

  function remove(button, policy) {
    return rowAction(button, {
      question: `Delete the webhook ${policy.name}? Deliveries still pending for it stop.`,
      run: () => api.delete(`${base}/${policy.id}`),
      message: `${policy.name} deleted.`,
      refresh: pages.refresh,
    });
  }

  if (!manage) {
    replace(container, h("p", { class: "hint" }, "Only project admins may create or change webhooks."), list, deliveries);
    return pages.refresh();
  }

  const create = createForm({
    name: "webhook",
    title: "New webhook",
    focus: "name",
    content: [
      h(
        "div",
        { class: "fields" },
        field("Name", { name: "name", id: "webhook-name", required: true, maxlength: 256, autocomplete: "off" }),
        field("Notify type", { name: "type", id: "webhook-type" }, [
          { value: "http", label: "HTTP" },
          { value: "slack", label: "Slack" },
        ]),
        field("Endpoint URL", {
          name: "address",
          id: "webhook-address",
          type: "url",
          required: true,
          maxlength: 2048,
          autocomplete: "off",
          spellcheck: "false",
          hint: "An http or https address; not this registry itself.",
        }),
        field("Payload format", { name: "format", id: "webhook-format" }, [
          { value: "Default", label: "Default (Harbor's JSON)" },
          { value: "CloudEvents", label: "CloudEvents 1.0" },
        ]),
        field("Auth header", {
          name: "auth",
          id: "webhook-auth",
          type: "password",
          autocomplete: "off",
          hint: "Sent as the Authorization header, e.g. \"Bearer …\". Never shown again.",
        }),
        field("Signing secret", {
          name: "secret",
          id: "webhook-secret",
          type: "password",
          autocomplete: "new-password",
          hint: "Signs each POST (X-Berth-Signature, HMAC-SHA256). Never shown again.",
        }),
      ),
      field("Skip certificate verification", { name: "skip", id: "webhook-skip-verify", type: "checkbox" }),
      h(
        "fieldset",
        { class: "choices" },
        h("legend", {}, "Events"),
        EVENTS.map((e) => field(e.label, { name: e.type, id: `webhook-event-${e.type}`, type: "checkbox", checked: Boolean(e.checked) })),
      ),
    ],
    send: (f) => {
      const eventTypes = EVENTS.filter((e) => f[e.type].checked).map((e) => e.type);
      if (!eventTypes.length) {
        throw new Error("Choose at least one event.");
      }
      const target = {
        type: f.type.value,
        address: f.address.value.trim(),
        payload_format: f.type.value === "slack" ? "Default" : f.format.value,
        skip_cert_verify: f.skip.checked,
      };
      if (f.auth.value) {
        target.auth_header = f.auth.value;
      }
      if (f.secret.value) {
        target.signing_secret = f.secret.value;
      }
      return api.post(base, { name: f.name.value.trim(), event_types: eventTypes, targets: [target], enabled: true });
    },
    sent: async () => {
      showMessage("Webhook created.");
      await pages.refresh();
    },
  });

  replace(container, h("div", { class: "toolbar" }, create.opener), create.form, list, deliveries);
  return pages.refresh();
}
