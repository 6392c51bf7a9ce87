# Container image of the sample service (images/app/), committed from a container of
# container_base, tagged with the input hash and pushed to var.repository. The registry's
# digest for that tag is what the record names and what app.pkr.hcl pins.

source "docker" "app" {
  image  = var.container_base
  pull   = var.container_pull
  commit = true
  changes = [
    "ENV KILN_RELEASE=${var.app_release}",
    "ENV PORT=8080",
    "EXPOSE 8080",
    "USER 65534",
    "WORKDIR /app",
    "ENTRYPOINT [\"/app/serve.sh\"]",
  ]
}

build {
  sources = ["source.docker.app"]

  provisioner "file" {
    source      = "${path.root}/app/"
    destination = "/app"
  }

  # The image checks itself (serves its release id on /healthz) before it is committed.
  provisioner "shell" {
    environment_vars = ["KILN_RELEASE=${var.app_release}"]
    scripts          = ["${path.root}/scripts/container.sh"]
  }

  post-processors {
    post-processor "docker-tag" {
      repository = var.repository
      tags       = [var.image_tag]
    }
    post-processor "docker-push" {}
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
  }
}
