// The project's live events (/ws/projects/<id>/, see README "Live events"): one socket per page,
// re-opened after a drop, with typed listeners by event type. The event types are generated from
// webapp/events.py (api/events.gen.ts), so a field renamed there fails this build.
import type { EventOf, EventType, HelloEvent, LiveEvent } from "./api/events.gen";
import { projectSocketUrl } from "./api/projects";

export type { EventOf, EventType, LiveEvent } from "./api/events.gen";

/** What a page may send (webapp/consumers.py receive_json). */
export type ClientMessage = { type: "ping" } | { type: "presence"; image: number | null };

type AnyListener = (event: LiveEvent) => void;

export class ProjectSocket {
  private socket: WebSocket | null = null;
  private hello: HelloEvent | null = null;
  private listeners = new Map<EventType, Set<AnyListener>>();
  private retryMs = 500;
  private stopped = false;

  constructor(private readonly projectId: number) {
    this.open();
  }

  /**
   * Listen to one event type; returns the function that stops listening.
   * A "hello" listener added after the socket said hello still gets it: pages add listeners
   * after loading their data, and the greeting (with who is here) must not be missed.
   */
  on<T extends EventType>(type: T, listener: (event: EventOf<T>) => void): () => void {
    const set = this.listeners.get(type) ?? new Set();
    const untyped = listener as AnyListener; // only ever called with events whose type is T
    set.add(untyped);
    this.listeners.set(type, set);
    const hello = this.hello;
    if (type === "hello" && hello) queueMicrotask(() => untyped(hello));
    return () => set.delete(untyped);
  }

  send(message: ClientMessage): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close(): void {
    this.stopped = true;
    const socket = this.socket;
    // Closing a socket that is still connecting makes the browser log a warning: close it once open.
    if (socket?.readyState === WebSocket.CONNECTING) socket.onopen = () => socket.close();
    else socket?.close();
  }

  private open(): void {
    const socket = new WebSocket(projectSocketUrl(this.projectId));
    this.socket = socket;
    socket.onopen = () => (this.retryMs = 500);
    socket.onmessage = (message) => {
      if (this.stopped) return; // the page has gone
      const event = JSON.parse(String(message.data)) as LiveEvent;
      if (event.type === "hello") this.hello = event;
      this.listeners.get(event.type)?.forEach((listener) => listener(event));
    };
    socket.onclose = (close) => {
      if (this.stopped) return;
      if (close.code === 4403) return; // not a member: retrying cannot help
      setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }
}
