"""Models out and back in (README "Models out"): a model version as TorchScript, ONNX or a
BioImage.IO package, and a package Lesslabel exported imported again as a model version.

- architecture.py: the exported network (normalised input -> class probabilities); shipped as it
  is in every package, so it imports only torch and segmentation-models-pytorch
- network.py: TorchScript and ONNX files of it, each carrying the version's description
- rdf.py: the package's rdf.yaml (BioImage.IO model format 0.5) and README
- package.py: writing a package, and reading one back safely for an import
- services.py: `version_export` and `model_version_import`, what the API and `import_model` call
"""
