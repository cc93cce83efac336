// "also here: …": who else has this image open (../presence.ts tracks the project's people).
import type { ProjectSocket } from "../live";
import { watchPresence } from "../presence";
import { h } from "../ui";

export function presenceNote(socket: ProjectSocket, imageId: number, me: string): HTMLElement {
  const note = h("span", { class: "presence", "data-testid": "presence" });
  watchPresence(socket, imageId, (present) => {
    const here = present.filter((p) => p.image === imageId && p.user !== me).map((p) => p.user);
    note.textContent = here.length ? `also here: ${[...new Set(here)].join(", ")}` : "";
  });
  return note;
}
