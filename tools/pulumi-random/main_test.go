package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const passwordURN = "urn:pulumi:dev::api-stack::random:index/randomPassword:RandomPassword::db"

func count(s, chars string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(chars, r) {
			n++
		}
	}
	return n
}

func checked(t *testing.T, inputs resource.PropertyMap) (resource.PropertyMap, []*pulumirpc.CheckFailure) {
	t.Helper()
	news, err := marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&randomProvider{}).Check(context.Background(), &pulumirpc.CheckRequest{Urn: passwordURN, News: news})
	if err != nil {
		t.Fatal(err)
	}
	out, err := unmarshal(resp.GetInputs())
	if err != nil {
		t.Fatal(err)
	}
	return out, resp.GetFailures()
}

func TestGenerateHonoursLengthClassesAndMinimums(t *testing.T) {
	inputs, failures := checked(t, resource.PropertyMap{
		"length": resource.NewNumberProperty(16), "special": resource.NewBoolProperty(false),
		"minUpper": resource.NewNumberProperty(5), "minNumeric": resource.NewNumberProperty(5),
	})
	if len(failures) != 0 {
		t.Fatalf("unexpected failures: %v", failures)
	}
	for i := 0; i < 50; i++ {
		got, err := generate(inputs)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 16 || count(got, upperChars) < 5 || count(got, numericChars) < 5 ||
			count(got, defaultSpecialChars) != 0 {
			t.Fatalf("generated %q breaks length 16, minUpper 5, minNumeric 5, special false", got)
		}
	}
}

func TestCheckRejectsLengthBelowMinimums(t *testing.T) {
	_, failures := checked(t, resource.PropertyMap{
		"length": resource.NewNumberProperty(3), "minLower": resource.NewNumberProperty(4),
	})
	if len(failures) != 1 || failures[0].GetProperty() != "length" {
		t.Fatalf("want one failure on length, got %v", failures)
	}
}

func TestDiffReplacesOnlyWhenAnInputChanges(t *testing.T) {
	olds, _ := checked(t, resource.PropertyMap{"length": resource.NewNumberProperty(24)})
	same, _ := checked(t, resource.PropertyMap{"length": resource.NewNumberProperty(24)})
	longer, _ := checked(t, resource.PropertyMap{"length": resource.NewNumberProperty(32)})
	diff := func(news resource.PropertyMap) *pulumirpc.DiffResponse {
		o, _ := marshal(olds)
		n, _ := marshal(news)
		resp, err := (&randomProvider{}).Diff(context.Background(), &pulumirpc.DiffRequest{
			Urn: passwordURN, OldInputs: o, Olds: o, News: n,
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := diff(same); resp.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("same inputs: want no change, got %v", resp)
	}
	if resp := diff(longer); resp.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME ||
		len(resp.GetReplaces()) != 1 || resp.GetReplaces()[0] != "length" {
		t.Fatalf("new length: want a replace on length, got %v", resp)
	}
}

func TestCreateReturnsSecretResult(t *testing.T) {
	inputs, _ := checked(t, resource.PropertyMap{"length": resource.NewNumberProperty(12)})
	props, _ := marshal(inputs)
	resp, err := (&randomProvider{}).Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: passwordURN, Properties: props,
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := unmarshal(resp.GetProperties())
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != "none" || !outs["result"].IsSecret() || !outs["bcryptHash"].IsSecret() {
		t.Fatalf("want id none and secret result/bcryptHash, got id %q, outputs %v", resp.GetId(), outs)
	}
	if n := len(outs["result"].SecretValue().Element.StringValue()); n != 12 {
		t.Fatalf("want a 12-character result, got %d", n)
	}
}

func TestSchemaSaysWhatThePluginIs(t *testing.T) {
	version = "4.21.2"
	resp, err := (&randomProvider{}).GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Name, Version, Description string }
	if err := json.Unmarshal([]byte(resp.GetSchema()), &got); err != nil {
		t.Fatalf("schema is not JSON: %v\n%s", err, resp.GetSchema())
	}
	if got.Name != "random" || got.Version != "4.21.2" {
		t.Errorf("schema names %q %q, want random 4.21.2 (the version the SDK asks for)", got.Name, got.Version)
	}
	if !strings.Contains(got.Description, "stand-in") || !strings.Contains(got.Description, "tools/pulumi-random") {
		t.Errorf("schema description does not say it is our stand-in: %q", got.Description)
	}
}
