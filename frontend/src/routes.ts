// The app's own addresses (hash routes), made in one place as api/ makes the server's: main.ts
// matches them, pages link to them.

export const projectsHref = (): string => "#/";
export const projectHref = (projectId: number): string => `#/projects/${projectId}`;
export const trainingHref = (projectId: number): string => `#/projects/${projectId}/training`;
export const studyHref = (projectId: number): string => `#/projects/${projectId}/study`;
export const teacherHref = (projectId: number): string => `#/projects/${projectId}/teacher`;
export const imageHref = (projectId: number, imageId: number): string => `#/projects/${projectId}/images/${imageId}`;
export const progressHref = (projectId: number): string => `#/projects/${projectId}/progress`;
/** Review mode: the first submitted image (or, with `imageId`, that one) in the annotator. */
export const reviewHref = (projectId: number, imageId?: number): string =>
  imageId === undefined ? `#/projects/${projectId}/review` : `#/projects/${projectId}/review/${imageId}`;

/** The pages, by the shape of their hash; the numbers in it are the page's arguments. */
export const ROUTES = {
  projects: /^#?\/?$/,
  project: /^#\/projects\/(\d+)\/?$/,
  training: /^#\/projects\/(\d+)\/training\/?$/,
  study: /^#\/projects\/(\d+)\/study\/?$/,
  teacher: /^#\/projects\/(\d+)\/teacher\/?$/,
  image: /^#\/projects\/(\d+)\/images\/(\d+)\/?$/,
  progress: /^#\/projects\/(\d+)\/progress\/?$/,
  reviewQueue: /^#\/projects\/(\d+)\/review\/?$/,
  review: /^#\/projects\/(\d+)\/review\/(\d+)\/?$/,
} as const;
