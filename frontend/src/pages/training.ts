// The training page: start a run, follow it live (curves, previews, queue position, ETA),
// cancel it, compare runs and model versions side by side, and predict images with a version.
import { getProject, listClasses, type LabelClass } from "../api/projects";
import { getRun, listModelVersions, listRuns, type ModelVersion, type Run } from "../api/runs";
import { ProjectSocket } from "../live";
import { parseHexColor, type Palette } from "../painter/colors";
import { studyHref } from "../routes";
import { canManage, crumbs, h, messageLine, type Stop } from "../ui";
import { PredictPanel } from "./predict-panel";
import { runForm } from "./run-form";
import { stageText, type RunPointEvent } from "./run-points";
import { RunView } from "./run-view";
import { versionTools, type Messages } from "./version-export";
import { bestVersion, modelName, predicts, validationScore } from "./versions";

function runRows(runs: Run[], followed: number | null, stages: Map<number, string>, follow: (id: number) => void): HTMLElement[] {
  return [
    h("tr", {}, ...["run", "state", "by", "queue", "progress", "model", ""].map((t) => h("th", {}, t))),
    ...[...runs]
      .sort((a, b) => b.id - a.id)
      .map((run) =>
        h(
          "tr",
          { "data-run": run.id, class: followed === run.id ? "selected" : "" },
          h("td", {}, h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), follow(run.id)) }, `#${run.id}`)),
          h("td", { class: `state ${run.state}` }, run.state),
          h("td", {}, run.created_by),
          h("td", {}, run.queue_position ? `${run.queue_position}` : ""),
          h("td", {}, run.progress?.step ? `${run.progress.step}/${run.progress.steps}` : (stages.get(run.id) ?? "")),
          h("td", {}, run.model_version ? `v${run.model_version}` : ""),
          h("td", {}, run.error ? h("span", { class: "error" }, run.error) : ""),
        ),
      ),
  ];
}

/** One row per version, newest first, the best by validation pixel F1 marked "best"; for managers
 * a "Predict…" button on those that predict (`predict`) and their downloads (`exports`). */
function versionRows(
  versions: ModelVersion[],
  predict: ((id: number) => void) | null,
  exports: ((version: ModelVersion) => HTMLElement) | null,
): HTMLElement[] {
  const metric = (version: ModelVersion, key: string): string => validationScore(version, key)?.toFixed(3) ?? "–";
  const best = bestVersion(versions);
  const row = (version: ModelVersion): HTMLElement => {
    return h(
      "tr",
      { "data-version": version.id },
      h(
        "td",
        {},
        `v${version.id}`,
        version.id === best ? h("span", { class: "badge best", "data-testid": "best-version", title: "highest validation pixel F1" }, "best") : "",
      ),
      h("td", {}, version.run ? `#${version.run}` : ""),
      h("td", {}, version.kind),
      h("td", {}, modelName(version)),
      h("td", {}, metric(version, "pixel_f1")),
      h("td", {}, metric(version, "iou")),
      h("td", {}, new Date(version.created_at).toLocaleString()),
      h(
        "td",
        {},
        predict && predicts(version)
          ? h("button", { "data-testid": "predict-version-button", "data-version": version.id, onclick: () => predict(version.id) }, "Predict…")
          : "",
      ),
      exports?.(version),
    );
  };
  const titles = ["version", "run", "kind", "model", "pixel F1", "IoU", "created", "", ...(exports ? ["download"] : [])];
  const header = h("tr", {}, ...titles.map((t) => h("th", {}, t)));
  return [header, ...[...versions].sort((a, b) => b.id - a.id).map(row)];
}

/** The versions table (with downloads), the import form, and the predict panel its "Predict…" buttons
 * open; `render` after the versions change. */
function versionsPart(projectId: number, socket: ProjectSocket, mayManage: boolean, versions: ModelVersion[], message: Messages) {
  const table = h("table", { class: "versions", "data-testid": "versions" });
  const predict = new PredictPanel({ projectId, socket, mayStart: mayManage });
  const tools = versionTools(projectId, mayManage, message, (version) => (versions.unshift(version), render()));
  const render = (): void => {
    table.replaceChildren(...versionRows(versions, mayManage ? (id) => predict.chooseVersion(id) : null, tools.exports));
    predict.setVersions(versions);
  };
  return { table, predict, importer: tools.importer, render };
}

export async function showTraining(root: HTMLElement, projectId: number): Promise<Stop> {
  const [project, classes, runs, versions] = await Promise.all([getProject(projectId), listClasses(projectId), listRuns(projectId), listModelVersions(projectId)]);
  const socket = new ProjectSocket(projectId);
  const ordered: LabelClass[] = [...classes].sort((a, b) => a.index - b.index); // model class k is ordered[k]
  const palette: Palette = new Map(classes.map((c) => [c.index, parseHexColor(c.color)]));
  const message = messageLine();
  const runList = h("table", { class: "runs", "data-testid": "runs" });
  const followed = h("section", { class: "followed", "data-testid": "followed-run" });
  const runsById = new Map(runs.map((run) => [run.id, run]));
  const stages = new Map<number, string>(); // run id -> its latest stage line
  let view: RunView | null = null;
  const renderRuns = (): void => runList.replaceChildren(...runRows([...runsById.values()], view?.run.id ?? null, stages, (id) => void follow(id)));
  const { table: versionList, predict, importer, render: renderVersions } = versionsPart(projectId, socket, canManage(project.role), versions, message);

  async function follow(runId: number): Promise<void> {
    view?.stop();
    view = new RunView(await getRun(runId), ordered, palette);
    followed.replaceChildren(view.node);
    await view.load();
    renderRuns();
  }

  socket.on("run.state", async (event) => {
    const run = await getRun(event.run);
    runsById.set(run.id, run);
    if (view?.run.id === run.id) view.setRun(run);
    if (run.state === "succeeded") versions.splice(0, versions.length, ...(await listModelVersions(projectId)));
    renderRuns();
    renderVersions();
  });
  const toView = (event: RunPointEvent): void => view?.receiveEvent(event);
  socket.on("run.progress", (event) => {
    const run = runsById.get(event.run);
    if (run) run.progress = { step: event.step, steps: event.steps };
    renderRuns();
    toView(event);
  });
  socket.on("run.validation", toView);
  socket.on("run.preview", toView);
  socket.on("run.stage", (event) => {
    const text = stageText(event);
    stages.set(event.run, text);
    // Stage events carry a seq (and are stored as curve points) once the server stores them;
    // before that they only say how far the stage is.
    if (Number.isInteger(event.seq)) toView(event);
    if (view?.run.id === event.run) view.showStage(text);
    renderRuns();
  });
  socket.on("predictions.ready", () => view?.predictionsReady());

  const form = canManage(project.role)
    ? runForm(projectId, versions, classes, message, (run) => {
        runsById.set(run.id, run);
        renderRuns();
        void follow(run.id);
      })
    : h("p", { class: "muted" }, "Managers and owners start runs; you can follow them here.");
  renderRuns();
  renderVersions();
  root.replaceChildren(
    crumbs(projectId, project.name, h("strong", {}, "Training"), h("a", { class: "button", href: studyHref(projectId), "data-testid": "study-link" }, "How many labels do I need? →")),
    h("div", { class: "training-layout" }, h("section", {}, h("h2", {}, "Start a run"), form, message.node), followed),
    h("section", {}, h("h2", {}, "Runs"), runList),
    h("section", {}, h("h2", {}, "Model versions"), versionList, importer),
    predict.node,
  );
  await predict.load();
  const latest = [...runsById.values()].sort((a, b) => b.id - a.id)[0];
  if (latest) await follow(latest.id);
  return () => {
    view?.stop();
    socket.close();
  };
}
