// The app shell: a hash router over the pages. Each page renders into #app and returns what
// stops it (closing its socket, removing key handlers) when the user goes elsewhere.
import { showAnnotator } from "./pages/annotator";
import { showProject } from "./pages/project";
import { showProjects } from "./pages/projects";
import { showTeacher } from "./pages/teacher";
import { showTraining } from "./pages/training";
import { errorText, h, type Stop } from "./ui";
import "./style.css";

const routes: [RegExp, (root: HTMLElement, ids: number[]) => Promise<Stop>][] = [
  [/^#?\/?$/, (root) => showProjects(root)],
  [/^#\/projects\/(\d+)\/?$/, (root, [project]) => showProject(root, project)],
  [/^#\/projects\/(\d+)\/training\/?$/, (root, [project]) => showTraining(root, project)],
  [/^#\/projects\/(\d+)\/teacher\/?$/, (root, [project]) => showTeacher(root, project)],
  [/^#\/projects\/(\d+)\/images\/(\d+)\/?$/, (root, [project, image]) => showAnnotator(root, project, image)],
];

let stopCurrent: Stop = () => {};

async function route(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  stopCurrent();
  stopCurrent = () => {};
  root.replaceChildren(h("p", {}, "Loading…"));
  for (const [pattern, show] of routes) {
    const match = location.hash.match(pattern);
    if (!match) continue;
    try {
      stopCurrent = await show(root, match.slice(1).map(Number));
    } catch (error) {
      root.replaceChildren(h("p", { class: "error" }, `Could not open this page: ${errorText(error)}`));
    }
    return;
  }
  root.replaceChildren(h("p", {}, "No such page. "), h("a", { href: "#/" }, "Your projects"));
}

window.addEventListener("hashchange", () => void route());
void route();
