// The annotator's two canvases, stacked: a static one with the image and the label overlays,
// redrawn only when they change, and an interactive one on top with the brush outline and the
// stroke in progress, redrawn as the pointer moves. Both are drawn at most once per animation
// frame. Pointer events go to the chosen tool (tools/); the view (zoom and pan) lives here.
import type { Point } from "../painter/geometry";
import { fit, oneToOne, panBy, screenToImage, zoomAt, type Viewport } from "../painter/viewport";
import { h } from "../ui";
import type { ToolName } from "./settings";
import type { Tool, ToolPointer } from "./tools";

/** Draws the image and overlays; the context holds the view's transform. */
export type DrawStatic = (context: CanvasRenderingContext2D, view: Viewport, width: number, height: number) => void;

const WHEEL_ZOOM = 0.0015;

export interface CanvasOptions {
  imageWidth: number;
  imageHeight: number;
  drawStatic: DrawStatic;
  tools: Record<ToolName, Tool>;
  /** Why this person may not change labels now (a viewer; an annotator on an image under review), or
   * null when they may: a press with a painting tool is refused with this reason. */
  paintRefusal: () => string | null;
  refuse: (reason: string) => void;
}

export class AnnotatorCanvas {
  /** The stage: both canvases, and room for notes over them. */
  readonly node: HTMLElement;
  /** The canvas people touch (data-testid "canvas"); its data attributes say what is drawn. */
  readonly interactive = h("canvas", { class: "annotator-canvas", "data-testid": "canvas", tabindex: 0 });
  private readonly base = h("canvas", { class: "annotator-canvas static", "aria-hidden": "true" });
  private view: Viewport = { scale: 1, offsetX: 0, offsetY: 0 };
  private frame = 0;
  private dirty = { base: false, interactive: false };
  private pointer: Point | null = null;
  private tool: Tool;
  private dragging: Tool | null = null;
  private panHeld = false;
  private readonly observer = new ResizeObserver(() => this.resize());

  private readonly tools: Record<ToolName, Tool>;

  constructor(private readonly options: CanvasOptions) {
    this.node = h("div", { class: "stage" }, this.base, this.interactive);
    this.tools = options.tools;
    this.tool = this.tools.brush;
    this.tool.activate();
    this.interactive.style.cursor = this.tool.cursor;
    this.listen();
    this.observer.observe(this.node);
  }

  /** The image and overlays changed: draw both canvases in the next frame. */
  invalidate(): void {
    this.schedule("base");
  }

  /** Only what the tool shows changed (the pointer moved, a stroke grew). */
  invalidateInteractive(): void {
    this.schedule("interactive");
  }

  choose(name: ToolName): void {
    if (this.tool.name === name) return;
    this.tool.deactivate();
    this.tool = this.tools[name];
    this.tool.activate();
    this.interactive.style.cursor = this.tool.cursor;
    this.invalidateInteractive();
  }

  /** While held (space), a left-button drag pans whatever tool is chosen. */
  holdToPan(held: boolean): void {
    this.panHeld = held;
  }

  panBy(dx: number, dy: number): void {
    this.setView(panBy(this.view, dx, dy));
  }

  /** Zoom by `factor` about the centre of the canvas. */
  zoom(factor: number): void {
    this.setView(zoomAt(this.view, { x: this.interactive.width / 2, y: this.interactive.height / 2 }, factor));
  }

  fit(): void {
    this.setView(fit(this.options.imageWidth, this.options.imageHeight, this.interactive.width, this.interactive.height));
  }

  oneToOne(): void {
    this.setView(oneToOne(this.view, this.interactive.width, this.interactive.height));
  }

  /** The zoom and pan now, and a view to show: another plane of a stack opens where this one was. */
  get viewport(): Viewport {
    return this.view;
  }

  show(view: Viewport): void {
    this.setView(view);
  }

  resize(): void {
    for (const canvas of [this.base, this.interactive]) {
      canvas.width = this.node.clientWidth || 800;
      canvas.height = this.node.clientHeight || 600;
    }
    this.invalidate();
  }

  stop(): void {
    this.dragging?.cancel();
    this.observer.disconnect();
    cancelAnimationFrame(this.frame);
  }

  private setView(view: Viewport): void {
    this.view = view;
    this.invalidate();
  }

  private schedule(which: "base" | "interactive"): void {
    this.dirty[which] = true;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  private draw(): void {
    this.frame = 0;
    const { scale, offsetX, offsetY } = this.view;
    if (this.dirty.base) {
      const context = this.base.getContext("2d") as CanvasRenderingContext2D;
      context.setTransform(1, 0, 0, 1, 0, 0);
      context.fillStyle = "#111";
      context.fillRect(0, 0, this.base.width, this.base.height);
      context.setTransform(scale, 0, 0, scale, offsetX, offsetY);
      this.options.drawStatic(context, this.view, this.base.width, this.base.height);
    }
    if (this.dirty.base || this.dirty.interactive) {
      const context = this.interactive.getContext("2d") as CanvasRenderingContext2D;
      context.setTransform(1, 0, 0, 1, 0, 0);
      context.clearRect(0, 0, this.interactive.width, this.interactive.height);
      context.setTransform(scale, 0, 0, scale, offsetX, offsetY);
      this.tool.draw(context, this.pointer, scale);
    }
    this.dirty = { base: false, interactive: false };
  }

  private pointerOf(event: PointerEvent | WheelEvent): ToolPointer {
    const box = this.interactive.getBoundingClientRect();
    const screen = { x: event.clientX - box.left, y: event.clientY - box.top };
    return { screen, image: screenToImage(this.view, screen) };
  }

  /** The tool a press starts: the pan tool for the middle button or with space held, else the chosen one. */
  private toolFor(event: PointerEvent): Tool | null {
    if (event.button === 1 || (event.button === 0 && this.panHeld)) return this.tools.pan;
    if (event.button !== 0) return null;
    const refusal = this.tool.paints ? this.options.paintRefusal() : null;
    if (refusal) {
      this.options.refuse(refusal);
      return null;
    }
    return this.tool;
  }

  private listen(): void {
    const canvas = this.interactive;
    canvas.addEventListener("pointerdown", (event) => {
      canvas.focus();
      const tool = this.toolFor(event);
      if (tool === this.tools.pan) event.preventDefault();
      if (!tool?.pointerDown(this.pointerOf(event))) return;
      this.dragging = tool;
      canvas.style.cursor = tool === this.tools.pan ? "grabbing" : tool.cursor;
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      const at = this.pointerOf(event);
      this.pointer = at.image;
      this.dragging?.pointerMove(at);
      this.invalidateInteractive();
    });
    const release = (event: PointerEvent): void => {
      this.dragging?.pointerUp(this.pointerOf(event));
      this.dragging = null;
      canvas.style.cursor = this.tool.cursor;
    };
    canvas.addEventListener("pointerup", release);
    canvas.addEventListener("pointercancel", release);
    canvas.addEventListener("pointerleave", () => {
      this.pointer = null;
      this.invalidateInteractive();
    });
    canvas.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        this.setView(zoomAt(this.view, this.pointerOf(event).screen, Math.exp(-event.deltaY * WHEEL_ZOOM)));
      },
      { passive: false },
    );
  }
}
