package docgen

import (
	"github.com/fusionfleet/fusionfleet/internal/commandcenter/localui"
	"github.com/fusionfleet/fusionfleet/internal/deviceapi"
	"github.com/fusionfleet/fusionfleet/internal/restapi"
)

// Files returns every generated page by its path in the repository.
func Files() (map[string][]byte, error) {
	files := map[string][]byte{
		"docs/privacy-data.md":    PrivacyData(),
		"docs/troubleshooting.md": Troubleshooting(),
	}
	apis := []struct {
		path, title, source string
		doc                 []byte
	}{
		{"docs/api/device.md", "Device API reference", "the printer's OpenAPI document (internal/deviceapi)", deviceapi.OpenAPI()},
		{"docs/api/local.md", "Command Center local API reference", "the local API's OpenAPI document (internal/commandcenter/localui/openapi.json)", localui.OpenAPI()},
		{"docs/api/cloud.md", "Cloud REST API reference", "the cloud API's OpenAPI document (internal/restapi/openapi.json)", restapi.OpenAPI()},
	}
	for _, a := range apis {
		b, err := APIReference(a.title, a.source, a.doc)
		if err != nil {
			return nil, err
		}
		files[a.path] = b
	}
	for p, b := range files {
		files[p] = append(b, '\n')
	}
	return files, nil
}
