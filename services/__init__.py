"""shopflow services. Each subpackage is one deployable service; `common` is what they share."""
