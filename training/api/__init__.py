"""The training app's REST API: views, serializers, urls."""
