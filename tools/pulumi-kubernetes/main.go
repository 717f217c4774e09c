// Command pulumi-resource-kubernetes serves the Kubernetes provider plugin.
//
// Upstream's main embeds schema files that its build generates and that the module zip does not
// carry; scripts/toolchain.sh copies the provider's schema.json and terraform-mapping.json from the
// module cache next to this file (ignored by Git) before it builds.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
