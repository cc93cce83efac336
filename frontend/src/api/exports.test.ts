import { describe, expect, it } from "vitest";
import { exportUrl } from "./exports";

describe("exportUrl", () => {
  it("names what, the formats and, for predictions only, the model version", () => {
    expect(exportUrl(3, { what: "human", formats: ["classes", "coco"], modelVersion: 9 })).toEqual({
      url: "/api/projects/3/export/?what=human&as=classes%2Ccoco",
    });
    expect(exportUrl(3, { what: "predictions", formats: ["csv"], modelVersion: 9 })).toEqual({
      url: "/api/projects/3/export/?what=predictions&as=csv&model_version=9",
    });
  });

  it("says what is missing instead of a URL the server would refuse", () => {
    expect(exportUrl(3, { what: "human", formats: [], modelVersion: null })).toHaveProperty("problem");
    expect(exportUrl(3, { what: "predictions", formats: ["csv"], modelVersion: null })).toHaveProperty("problem");
  });
});
