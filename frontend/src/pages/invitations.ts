// Invitations on both sides: the box on the projects page where the signed-in user accepts or
// declines the invitations waiting for them, and on a project's page the owners' form to invite a
// user name with a role, with the pending invitations they can withdraw. Nobody becomes a member
// without accepting; the server answers an invitation the same whether or not the name exists.
import {
  acceptInvitation,
  declineInvitation,
  inviteMember,
  listMyInvitations,
  listProjectInvitations,
  withdrawInvitation,
  type Invitation,
  type Role,
} from "../api/projects";
import { projectHref } from "../routes";
import { errorText, h, messageLine } from "../ui";

const HOUR = 3600_000;

/** "expires in 3 days", "expires in 5 hours", "expires within the hour", "has expired". */
export function expiresIn(expiresAt: string, now: Date): string {
  const left = Date.parse(expiresAt) - now.getTime();
  if (!(left > 0)) return "has expired";
  if (left < HOUR) return "expires within the hour";
  if (left < 48 * HOUR) return `expires in ${Math.floor(left / HOUR)} hours`;
  return `expires in ${Math.floor(left / (24 * HOUR))} days`;
}

/** What an invitation offers, as its invitee reads it. */
export function offerText(invitation: Invitation, now: Date): string {
  const from = invitation.invited_by ? ` from ${invitation.invited_by}` : "";
  return `${invitation.project_name}: join as ${invitation.role}${from} (${expiresIn(invitation.expires_at, now)})`;
}

/** The signed-in user's pending invitations, or nothing when there are none. */
export async function invitationsBox(): Promise<HTMLElement | null> {
  const invitations = await listMyInvitations();
  if (!invitations.length) return null;
  const message = messageLine();
  const list = h("ul", { class: "invitation-list", "data-testid": "invitations" });
  const box = h("section", { class: "invitations" }, h("h2", {}, "Invitations"), list, message.node);

  function row(invitation: Invitation): HTMLElement {
    const item = h("li", {}, h("span", {}, offerText(invitation, new Date())));
    const answer = async (accept: boolean): Promise<void> => {
      try {
        if (accept) {
          await acceptInvitation(invitation.id);
          location.hash = projectHref(invitation.project);
          return;
        }
        await declineInvitation(invitation.id);
        item.remove();
        message.info(`Declined the invitation to ${invitation.project_name}.`);
      } catch (error) {
        message.error(errorText(error));
      }
    };
    item.append(
      h("button", { type: "button", onclick: () => void answer(true) }, "Accept"),
      h("button", { type: "button", onclick: () => void answer(false) }, "Decline"),
    );
    return item;
  }

  list.append(...invitations.map(row));
  return box;
}

/** Owners: invite a user name with a role; the pending invitations, each with Withdraw. */
export function invitePanel(projectId: number, roleSelect: (onChange: (role: Role) => void) => HTMLSelectElement): HTMLElement {
  const message = messageLine();
  const pending = h("ul", { class: "member-list", "data-testid": "pending-invitations" });

  function row(invitation: Invitation): HTMLElement {
    const item = h("li", {}, h("span", {}, `${invitation.username} · ${invitation.role} · ${expiresIn(invitation.expires_at, new Date())}`));
    const withdraw = async (): Promise<void> => {
      try {
        await withdrawInvitation(projectId, invitation.id);
        item.remove();
        message.info(`Withdrew the invitation of ${invitation.username}.`);
      } catch (error) {
        message.error(errorText(error));
      }
    };
    item.append(h("button", { type: "button", onclick: () => void withdraw() }, "Withdraw"));
    return item;
  }

  const username = h("input", { placeholder: "User name", required: true, maxlength: 150 });
  let role: Role = "annotator";
  const form = h("form", { class: "inline-form" }, username, roleSelect((chosen) => (role = chosen)), h("button", { type: "submit" }, "Invite"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const sent = await inviteMember(projectId, username.value.trim(), role);
      pending.append(row(sent.invitation));
      username.value = "";
      message.info(sent.detail);
    } catch (error) {
      message.error(errorText(error));
    }
  });
  listProjectInvitations(projectId).then(
    (invitations) => pending.prepend(...invitations.map(row)),
    (error: unknown) => message.error(errorText(error)),
  );
  return h("div", {}, h("h3", {}, "Pending invitations"), pending, form, message.node);
}
