// Swagger UI over the OpenAPI documents this node serves; no request
// leaves for another host (no validator badge, no CDN).
window.onload = function () {
  window.ui = SwaggerUIBundle({
    urls: [
      { url: "/ges/v1/openapi/external.yaml", name: "Engagement API (external port)" },
      { url: "/ges/v1/openapi/internal.yaml", name: "GMS and admin API (internal port)" }
    ],
    "urls.primaryName": new URLSearchParams(window.location.search).get("doc") === "internal"
      ? "GMS and admin API (internal port)" : "Engagement API (external port)",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
