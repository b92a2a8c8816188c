// Harbor's project roles (role_id), and what the console offers to whom. The console
// decides nothing itself: the buttons follow the caller's permissions in the project
// (api.projectPermissions: /users/current/permissions, which the API's one policy
// module answers), so they always match what the API will allow.

export const ROLES = [
  { id: 1, name: "Project admin" },
  { id: 4, name: "Maintainer" },
  { id: 2, name: "Developer" },
  { id: 3, name: "Guest" },
  { id: 5, name: "Limited guest" },
];
export function roleName(id) {
  const found = ROLES.find((role) => role.id === Number(id));
  return found ? found.name : "";
}

// What the console says the user's role in a project is, the same on every page:
// a system administrator may do everything in every project, whatever membership
// they also have, so that is what is shown; anyone else has their member role or none.
export function roleLabel(user, project) {
  if (user && user.sysadmin) return "System admin";
  return roleName(project.current_user_role_id) || "No role";
}

// `permissions`: a Set of "resource:action" relative to the project ("." is the project)
export function mayDeleteProject(permissions) {
  return permissions.has(".:delete");
}

export function mayManageMembers(permissions) {
  return permissions.has("member:create");
}

export function mayDeleteRepositories(permissions) {
  return permissions.has("repository:delete");
}

export function mayDeleteArtifacts(permissions) {
  return permissions.has("artifact:delete");
}

export function mayTag(permissions) {
  return permissions.has("tag:create");
}

export function mayLabelArtifacts(permissions) {
  return permissions.has("artifact-label:create");
}

export function mayListImmutability(permissions) {
  return permissions.has("immutable-tag:list");
}

export function mayManageImmutability(permissions) {
  return permissions.has("immutable-tag:create");
}

export function mayListRobots(permissions) {
  return permissions.has("robot:list");
}

export function mayManageRobots(permissions) {
  return permissions.has("robot:create");
}

export function mayListWebhooks(permissions) {
  return permissions.has("notification-policy:list");
}

export function mayManageWebhooks(permissions) {
  return permissions.has("notification-policy:create");
}

export function mayListRetention(permissions) {
  return permissions.has("tag-retention:list");
}

export function mayManageRetention(permissions) {
  return permissions.has("tag-retention:create");
}
