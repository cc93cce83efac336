// The project's live events (/ws/projects/<id>/, see README "Live events"): one socket per page,
// re-opened after a drop, with listeners by event type.

export interface LiveEvent {
  type: string;
  at?: number;
  [field: string]: unknown;
}

type Listener = (event: LiveEvent) => void;

export type ConnectionState = "connecting" | "open" | "closed" | "refused";

export class ProjectSocket {
  private socket: WebSocket | null = null;
  private hello: LiveEvent | null = null;
  private listeners = new Map<string, Set<Listener>>();
  private stateListeners = new Set<(state: ConnectionState) => void>();
  private retryMs = 500;
  private stopped = false;

  constructor(private readonly projectId: number) {
    this.open();
  }

  /**
   * Listen to one event type, or "*" for all; returns the function that stops listening.
   * A "hello" listener added after the socket said hello still gets it: pages add listeners
   * after loading their data, and the greeting (with who is here) must not be missed.
   */
  on(type: string, listener: Listener): () => void {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener);
    this.listeners.set(type, set);
    const hello = this.hello;
    if (type === "hello" && hello) queueMicrotask(() => listener(hello));
    return () => set.delete(listener);
  }

  onState(listener: (state: ConnectionState) => void): void {
    this.stateListeners.add(listener);
  }

  send(message: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  close(): void {
    this.stopped = true;
    this.socket?.close();
  }

  private open(): void {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/projects/${this.projectId}/`);
    this.socket = socket;
    this.setState("connecting");
    socket.onopen = () => {
      this.retryMs = 500;
      this.setState("open");
    };
    socket.onmessage = (message) => {
      const event = JSON.parse(String(message.data)) as LiveEvent;
      if (event.type === "hello") this.hello = event;
      for (const type of [event.type, "*"]) this.listeners.get(type)?.forEach((listener) => listener(event));
    };
    socket.onclose = (close) => {
      if (this.stopped) return;
      if (close.code === 4403) {
        this.setState("refused"); // not a member: retrying cannot help
        return;
      }
      this.setState("closed");
      setTimeout(() => this.open(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  private setState(state: ConnectionState): void {
    this.stateListeners.forEach((listener) => listener(state));
  }
}
