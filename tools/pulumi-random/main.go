// Command pulumi-resource-random is a small stand-in for Pulumi's random provider.
//
// Why our own: upstream's provider (bridged from Terraform) is a Go module that the module proxy
// reachable here does not serve at any version (see docs/toolchain.md). This plugin speaks the same
// protocol and serves the resources of @pulumi/random that this project uses, with the same
// property names and the same semantics as the Terraform provider:
//
//   - random:index/randomPassword:RandomPassword (id "none"; result and bcryptHash are secrets)
//   - random:index/randomString:RandomString (id = result)
//
// Every input is "force new": a changed input replaces the resource and makes a new value, an
// unchanged one keeps the value stored in state. Other random resources fail with a clear message.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags "-X main.version=<semver>" to the @pulumi/random version.
var version = ""

const (
	passwordType = "random:index/randomPassword:RandomPassword"
	stringType   = "random:index/randomString:RandomString"

	lowerChars          = "abcdefghijklmnopqrstuvwxyz"
	upperChars          = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars        = "0123456789"
	defaultSpecialChars = "!@#$%&*()-_=+[]{}<>:?"
)

// inputKeys are the resources' inputs, all of which force replacement when they change.
var inputKeys = []string{
	"keepers", "length", "lower", "minLower", "minNumeric", "minSpecial", "minUpper",
	"number", "numeric", "overrideSpecial", "special", "upper",
}

type randomProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

func main() {
	if version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-resource-random: built without -X main.version=<version>")
		os.Exit(1)
	}
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan bool)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	// The engine passes its address as the first argument that is not a flag; exit when it is gone.
	for _, arg := range os.Args[1:] {
		if !strings.HasPrefix(arg, "-") {
			go func(addr string) { _ = rpcutil.Healthcheck(ctx, addr, 5*time.Minute, cancel) }(arg)
			break
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, &randomProvider{})
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: could not start the gRPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: %v\n", err)
		os.Exit(1)
	}
}

func (p *randomProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *randomProvider) GetSchema(
	context.Context, *pulumirpc.GetSchemaRequest,
) (*pulumirpc.GetSchemaResponse, error) {
	return &pulumirpc.GetSchemaResponse{Schema: schema()}, nil
}

// schema says what this plugin is, for `pulumi package get-schema` and anyone reading the engine's
// logs: it answers to the version that @pulumi/random asks for, but it is not upstream's provider.
func schema() string {
	return fmt.Sprintf(`{"name":"random","displayName":"random (api-stack stand-in)","version":%q,"description":%q}`,
		version, "A stand-in for Pulumi's random provider, built by api-stack from tools/pulumi-random: "+
			"RandomPassword and RandomString only, with the Terraform provider's properties and semantics. "+
			"It answers to the plugin version that @pulumi/random asks for; it is not upstream's build of that version.")
}

func (p *randomProvider) CheckConfig(
	_ context.Context, req *pulumirpc.CheckRequest,
) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *randomProvider) DiffConfig(
	context.Context, *pulumirpc.DiffRequest,
) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *randomProvider) Configure(
	context.Context, *pulumirpc.ConfigureRequest,
) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
}

func checkType(urn string) error {
	switch t := string(resource.URN(urn).Type()); t {
	case passwordType, stringType:
		return nil
	default:
		return fmt.Errorf("resource type %s is not served by this build of pulumi-resource-random "+
			"(it serves RandomPassword and RandomString; see docs/toolchain.md)", t)
	}
}

// Check applies the Terraform provider's defaults and validates lengths.
func (p *randomProvider) Check(
	_ context.Context, req *pulumirpc.CheckRequest,
) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, key := range []string{"lower", "upper", "special"} {
		if _, ok := news[resource.PropertyKey(key)]; !ok {
			news[resource.PropertyKey(key)] = resource.NewBoolProperty(true)
		}
	}
	for _, key := range []string{"minLower", "minNumeric", "minSpecial", "minUpper"} {
		if _, ok := news[resource.PropertyKey(key)]; !ok {
			news[resource.PropertyKey(key)] = resource.NewNumberProperty(0)
		}
	}
	// "number" is the deprecated spelling of "numeric"; the provider keeps both equal.
	numeric, hasNumeric := news["numeric"]
	number, hasNumber := news["number"]
	switch {
	case hasNumeric && !hasNumber:
		news["number"] = numeric
	case hasNumber && !hasNumeric:
		news["numeric"] = number
	case !hasNumber && !hasNumeric:
		news["numeric"] = resource.NewBoolProperty(true)
		news["number"] = resource.NewBoolProperty(true)
	}

	var failures []*pulumirpc.CheckFailure
	length, ok := news["length"]
	switch {
	case !ok || length.IsNull():
		failures = append(failures, &pulumirpc.CheckFailure{Property: "length", Reason: "length is required"})
	case length.IsNumber():
		mins := 0.0
		for _, key := range []string{"minLower", "minNumeric", "minSpecial", "minUpper"} {
			if v := news[resource.PropertyKey(key)]; v.IsNumber() {
				mins += v.NumberValue()
			}
		}
		if length.NumberValue() < 1 {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "length", Reason: "length must be at least 1"})
		} else if length.NumberValue() < mins {
			failures = append(failures, &pulumirpc.CheckFailure{
				Property: "length",
				Reason:   fmt.Sprintf("length (%v) is smaller than the sum of the min* values (%v)", length.NumberValue(), mins),
			})
		}
	}
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// Diff replaces the resource when any input differs; otherwise nothing changes.
func (p *randomProvider) Diff(
	_ context.Context, req *pulumirpc.DiffRequest,
) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOldInputs())
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = unmarshal(req.GetOlds()); err != nil {
			return nil, err
		}
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var changed []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for _, key := range inputKeys {
		o, hasOld := olds[resource.PropertyKey(key)]
		n, hasNew := news[resource.PropertyKey(key)]
		if !hasOld && !hasNew {
			continue
		}
		if hasOld && hasNew && !n.ContainsUnknowns() && o.DeepEquals(n) {
			continue
		}
		if (!hasOld || o.IsNull()) && (!hasNew || n.IsNull()) {
			continue
		}
		changed = append(changed, key)
		kind := pulumirpc.PropertyDiff_UPDATE_REPLACE
		if !hasOld || o.IsNull() {
			kind = pulumirpc.PropertyDiff_ADD_REPLACE
		} else if !hasNew || n.IsNull() {
			kind = pulumirpc.PropertyDiff_DELETE_REPLACE
		}
		detailed[key] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(changed) == 0 {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true}, nil
	}
	sort.Strings(changed)
	return &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_SOME,
		Replaces:        changed,
		Diffs:           changed,
		DetailedDiff:    detailed,
		HasDetailedDiff: true,
	}, nil
}

func (p *randomProvider) Create(
	_ context.Context, req *pulumirpc.CreateRequest,
) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	isPassword := string(resource.URN(req.GetUrn()).Type()) == passwordType
	outputs := inputs.Copy()
	id := "none"
	if req.GetPreview() || inputs.ContainsUnknowns() {
		outputs["result"] = resource.MakeComputed(resource.NewStringProperty(""))
		if isPassword {
			outputs["bcryptHash"] = resource.MakeComputed(resource.NewStringProperty(""))
		}
		id = ""
	} else {
		result, err := generate(inputs)
		if err != nil {
			return nil, err
		}
		if isPassword {
			hash, err := bcrypt.GenerateFromPassword([]byte(result), bcrypt.DefaultCost)
			if err != nil {
				return nil, err
			}
			outputs["result"] = resource.MakeSecret(resource.NewStringProperty(result))
			outputs["bcryptHash"] = resource.MakeSecret(resource.NewStringProperty(string(hash)))
		} else {
			outputs["result"] = resource.NewStringProperty(result)
			id = result
		}
	}
	props, err := marshal(outputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Read returns the stored state unchanged: a random value has nothing outside Pulumi to refresh from.
func (p *randomProvider) Read(
	_ context.Context, req *pulumirpc.ReadRequest,
) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Update is never planned (every input change replaces); keep the stored value if it is called.
func (p *randomProvider) Update(
	_ context.Context, req *pulumirpc.UpdateRequest,
) (*pulumirpc.UpdateResponse, error) {
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	for _, key := range []resource.PropertyKey{"result", "bcryptHash"} {
		if v, ok := olds[key]; ok {
			news[key] = v
		}
	}
	props, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *randomProvider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func boolInput(m resource.PropertyMap, key string) bool {
	v := m[resource.PropertyKey(key)]
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	return !v.IsBool() || v.BoolValue()
}

func intInput(m resource.PropertyMap, key string) int {
	v := m[resource.PropertyKey(key)]
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsNumber() {
		return 0
	}
	return int(v.NumberValue())
}

// generate makes a value the way the Terraform provider does: the minimum count from each enabled
// class first, the rest from all enabled classes, then a shuffle; crypto/rand throughout.
func generate(inputs resource.PropertyMap) (string, error) {
	length := intInput(inputs, "length")
	special := defaultSpecialChars
	if v := inputs["overrideSpecial"]; v.IsString() && v.StringValue() != "" {
		special = v.StringValue()
	}
	type class struct {
		chars string
		min   int
	}
	var classes []class
	if boolInput(inputs, "lower") {
		classes = append(classes, class{lowerChars, intInput(inputs, "minLower")})
	}
	if boolInput(inputs, "upper") {
		classes = append(classes, class{upperChars, intInput(inputs, "minUpper")})
	}
	if boolInput(inputs, "numeric") && boolInput(inputs, "number") {
		classes = append(classes, class{numericChars, intInput(inputs, "minNumeric")})
	}
	if boolInput(inputs, "special") {
		classes = append(classes, class{special, intInput(inputs, "minSpecial")})
	}
	all := ""
	for _, c := range classes {
		all += c.chars
	}
	if all == "" {
		return "", errors.New("at least one of lower, upper, numeric and special must be true")
	}
	out := make([]byte, 0, length)
	for _, c := range classes {
		for i := 0; i < c.min; i++ {
			b, err := pick(c.chars)
			if err != nil {
				return "", err
			}
			out = append(out, b)
		}
	}
	for len(out) < length {
		b, err := pick(all)
		if err != nil {
			return "", err
		}
		out = append(out, b)
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

func pick(chars string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
	if err != nil {
		return 0, err
	}
	return chars[n.Int64()], nil
}
