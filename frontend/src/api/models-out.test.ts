import { describe, expect, it } from "vitest";
import { attachmentName, exportUrl } from "./models-out";

describe("models out", () => {
  it("asks for the chosen format of the version", () => {
    expect(exportUrl(7, "bioimageio")).toBe("/api/model-versions/7/export/?as=bioimageio");
  });

  it("names the file as the server's Content-Disposition says", () => {
    expect(attachmentName('attachment; filename="Nuclei-v7.onnx"', "x")).toBe("Nuclei-v7.onnx");
    expect(attachmentName(null, "model-v7")).toBe("model-v7");
  });
});
