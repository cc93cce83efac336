// Who else has the project open, and on which image: the socket's greeting lists them, then a
// "presence" event comes for each arrival, move and departure. Shared by the project page and
// the annotator, which each say where this page is.
import type { Present } from "./api/events.gen";
import type { ProjectSocket } from "./live";

export type { Present } from "./api/events.gen";

/** Tell the others this page is on `image` (null: the project page), and call `changed` with everyone present. */
export function watchPresence(socket: ProjectSocket, image: number | null, changed: (present: Present[]) => void): void {
  const bySession = new Map<string, Present>();
  const report = (): void => changed([...bySession.values()]);
  socket.on("hello", (event) => {
    bySession.clear();
    for (const entry of event.present ?? []) bySession.set(entry.session, entry);
    socket.send({ type: "presence", image }); // again after every reconnect
    report();
  });
  socket.on("presence", (event) => {
    if (event.left) bySession.delete(event.session);
    else bySession.set(event.session, { user: event.user, image: event.image ?? null, session: event.session });
    report();
  });
}
