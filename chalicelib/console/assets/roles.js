// Harbor's project roles (role_id) and what the console offers to whom. The
// API decides every call; the console only hides buttons that cannot work.

export const ROLES = [
  { id: 1, name: "Project admin" },
  { id: 4, name: "Maintainer" },
  { id: 2, name: "Developer" },
  { id: 3, name: "Guest" },
  { id: 5, name: "Limited guest" },
];
const PROJECT_ADMIN = 1;
const MAINTAINER = 4;
const DEVELOPER = 2;

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

function roleOf(user, project) {
  return user.sysadmin ? PROJECT_ADMIN : project.current_user_role_id;
}

// members, project deletion
export function mayAdminister(user, project) {
  return roleOf(user, project) === PROJECT_ADMIN;
}

// deleting artifacts, tags and repositories
export function mayDelete(user, project) {
  return [PROJECT_ADMIN, MAINTAINER].includes(roleOf(user, project));
}

// adding tags
export function mayTag(user, project) {
  return [PROJECT_ADMIN, MAINTAINER, DEVELOPER].includes(roleOf(user, project));
}

// robot accounts: from the caller's permissions in the project
// (api.projectPermissions), which say what the API will allow
export function mayListRobots(permissions) {
  return permissions.has("robot:list");
}

export function mayManageRobots(permissions) {
  return permissions.has("robot:create");
}
