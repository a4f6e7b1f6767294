package validate

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Value is a pointer to the typed object (k8s.io/api type or a crds.go type).
	Value any
}

// coreScheme knows the built-in kinds geotrack and its overlays may use.
var coreScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme,
		rbacv1.AddToScheme, schedulingv1.AddToScheme, storagev1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("build scheme: %v", err))
		}
	}
	return s
}()

// customKinds maps apiVersion/kind of the custom resources to their schema.
var customKinds = map[string]func() any{
	"serving.knative.dev/v1/Service":                func() any { return &KnativeService{} },
	"eventing.knative.dev/v1/Broker":                func() any { return &Broker{} },
	"eventing.knative.dev/v1/Trigger":               func() any { return &Trigger{} },
	"sources.knative.dev/v1/SinkBinding":            func() any { return &SinkBinding{} },
	"sources.knative.dev/v1/PingSource":             func() any { return &PingSource{} },
	"openfaas.com/v1/Function":                      func() any { return &OpenFaaSFunction{} },
	"helm.cattle.io/v1/HelmChart":                   func() any { return &HelmChart{} },
	"helm.cattle.io/v1/HelmChartConfig":             func() any { return &HelmChartConfig{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &Kustomization{} },
	"kustomize.config.k8s.io/v1alpha1/Component":    func() any { return &Kustomization{} },
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// SplitDocuments splits a multi-document YAML stream, dropping documents that
// hold only comments or whitespace.
func SplitDocuments(stream []byte) [][]byte {
	var docs [][]byte
	for _, d := range docSeparator.Split(string(stream), -1) {
		if !emptyDoc([]byte(d)) {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

// DecodeStrict decodes one YAML document into its typed schema. Duplicate
// keys, unknown fields, case-mismatched field names and wrong value types are
// all errors, and so is a kind this package has no schema for.
func DecodeStrict(doc []byte) (Object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Object{}, fmt.Errorf("yaml: %w", err)
	}
	var head struct {
		metav1.TypeMeta
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &head); err != nil {
		return Object{}, fmt.Errorf("read apiVersion/kind: %w", err)
	}
	if head.APIVersion == "" || head.Kind == "" {
		return Object{}, errors.New("document has no apiVersion/kind")
	}
	obj := Object{APIVersion: head.APIVersion, Kind: head.Kind, Name: head.Metadata.Name, Namespace: head.Metadata.Namespace}
	if mk, ok := customKinds[head.APIVersion+"/"+head.Kind]; ok {
		obj.Value = mk()
	} else {
		gv, err := schema.ParseGroupVersion(head.APIVersion)
		if err != nil {
			return obj, fmt.Errorf("apiVersion %q: %w", head.APIVersion, err)
		}
		ro, err := coreScheme.New(gv.WithKind(head.Kind))
		if err != nil {
			return obj, fmt.Errorf("no schema for %s %s: %w", head.APIVersion, head.Kind, err)
		}
		obj.Value = ro
	}
	strictErrs, err := sigsjson.UnmarshalStrict(js, obj.Value)
	if err != nil {
		return obj, fmt.Errorf("%s %s/%s: %w", obj.Kind, obj.Namespace, obj.Name, err)
	}
	if len(strictErrs) > 0 {
		return obj, fmt.Errorf("%s %s/%s: %w", obj.Kind, obj.Namespace, obj.Name, errors.Join(strictErrs...))
	}
	if obj.Name == "" && obj.Kind != "Kustomization" && obj.Kind != "Component" {
		return obj, fmt.Errorf("%s has no metadata.name", obj.Kind)
	}
	return obj, nil
}

// DecodeStream decodes every document of a YAML stream strictly; the error
// lists every failing document, not just the first.
func DecodeStream(stream []byte) ([]Object, error) {
	var objs []Object
	var errs []error
	for i, doc := range SplitDocuments(stream) {
		o, err := DecodeStrict(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w\n%s", i+1, err, excerpt(doc)))
			continue
		}
		objs = append(objs, o)
	}
	return objs, errors.Join(errs...)
}

func excerpt(doc []byte) string {
	const max = 400
	doc = bytes.TrimSpace(doc)
	if len(doc) > max {
		return string(doc[:max]) + "..."
	}
	return string(doc)
}
