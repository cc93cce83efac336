// The app shell: a hash router over the pages. Each page renders into #app and returns what
// stops it (closing its socket, removing key handlers) when the user goes elsewhere.
import { showAnnotator } from "./pages/annotator";
import { showProgress } from "./pages/progress";
import { showProject } from "./pages/project";
import { showProjects } from "./pages/projects";
import { showReviewQueue } from "./pages/review";
import { showStudy } from "./pages/study";
import { showTeacher } from "./pages/teacher";
import { showTraining } from "./pages/training";
import { projectsHref, ROUTES } from "./routes";
import { errorText, h, type Stop } from "./ui";
import "./style.css";

const routes: [RegExp, (root: HTMLElement, ids: number[]) => Promise<Stop>][] = [
  [ROUTES.projects, (root) => showProjects(root)],
  [ROUTES.project, (root, [project]) => showProject(root, project)],
  [ROUTES.training, (root, [project]) => showTraining(root, project)],
  [ROUTES.study, (root, [project]) => showStudy(root, project)],
  [ROUTES.teacher, (root, [project]) => showTeacher(root, project)],
  [ROUTES.image, (root, [project, image]) => showAnnotator(root, project, image)],
  [ROUTES.progress, (root, [project]) => showProgress(root, project)],
  [ROUTES.reviewQueue, (root, [project]) => showReviewQueue(root, project)],
  [ROUTES.review, (root, [project, image]) => showAnnotator(root, project, image, { review: true })],
];

let stopCurrent: Stop = () => {};
let navigation = 0;

// Each visit renders into a fresh element of its own. A page that finishes loading after the user
// has gone elsewhere only ever wrote into its detached element, and is stopped at once.
async function route(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  const visit = ++navigation;
  stopCurrent();
  stopCurrent = () => {};
  const page = h("div", { class: "page" }, h("p", {}, "Loading…"));
  root.replaceChildren(page);
  for (const [pattern, show] of routes) {
    const match = location.hash.match(pattern);
    if (!match) continue;
    try {
      const stop = await show(page, match.slice(1).map(Number));
      if (visit === navigation) stopCurrent = stop;
      else stop();
    } catch (error) {
      page.replaceChildren(h("p", { class: "error" }, `Could not open this page: ${errorText(error)}`));
    }
    return;
  }
  page.replaceChildren(h("p", {}, "No such page. "), h("a", { href: projectsHref() }, "Your projects"));
}

window.addEventListener("hashchange", () => void route());
void route();
