// What others' work changes on the open image, as it happens: their saves of the painted layers,
// new derived masks, the display rendition, a new prediction, an instant preview.
import { listAnnotations, type PaintedKind } from "../api/annotations";
import type { ProjectSocket } from "../live";
import { errorText, type messageLine } from "../ui";
import type { EditableLayer } from "./layer";
import type { Overlays } from "./overlays";
import type { PredictionSection } from "./prediction";
import type { TiledImage } from "./tiles";

export interface OpenImage {
  imageId: number;
  me: string;
  layers: Record<PaintedKind, EditableLayer>;
  overlays: Overlays;
  prediction: PredictionSection;
  picture: TiledImage;
  message: ReturnType<typeof messageLine>;
  /** The image changed: draw it again. */
  redraw(): void;
}

export function followImage(socket: ProjectSocket, open: OpenImage): void {
  const { imageId, layers, overlays, message } = open;
  socket.on("labels.changed", async (event) => {
    if (event.image !== imageId) return;
    if (event.kind === "scribble" || event.kind === "dense") {
      await layers[event.kind].remoteChanged(event.annotation, event.version);
      if (event.user !== open.me) message.info(`${event.user} saved ${event.kind} labels on this image.`);
    } else if (event.kind === "derived") {
      await overlays.loadDerived(await listAnnotations(imageId));
    }
  });
  socket.on("image.rendered", (event) => {
    if (event.image === imageId) void open.picture.retry().then(open.redraw, (error) => message.error(`The image: ${errorText(error)}`));
  });
  socket.on("predictions.ready", (event) => {
    if (event.predictions.some((p) => p.image === imageId)) {
      void open.prediction.load().catch((error) => message.error(`Prediction: ${errorText(error)}`));
    }
  });
  socket.on("preview.ready", (event) => {
    if (event.image !== imageId) return;
    const info = { seq: event.seq, madeAt: event.at ?? Date.now() / 1000, images: event.images };
    void overlays.showPreview(event.url, info).catch((error) => message.error(`Preview: ${errorText(error)}`));
  });
  socket.on("preview.skipped", (event) => {
    if (event.image === imageId) message.info(event.detail);
  });
  socket.on("preview.failed", (event) => {
    if (event.image === imageId) message.error(`The fast preview failed: ${event.error}`);
  });
}
