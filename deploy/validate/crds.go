package validate

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Schemas of the custom resources geotrack renders, kept here so decoding is
// strict without pulling in Knative, OpenFaaS or k3s Go modules. Field names
// and types follow the upstream API definitions (knative.dev/serving,
// knative.dev/eventing, openfaas/faas-netes, k3s-io/helm-controller,
// sigs.k8s.io/kustomize); only fields listed here are accepted.

// KnativeService is serving.knative.dev/v1 Service.
type KnativeService struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta  `json:"metadata"`
	Spec            KnativeServiceSpec `json:"spec"`
}

// KnativeServiceSpec is a Service's spec.
type KnativeServiceSpec struct {
	Template RevisionTemplate `json:"template"`
	Traffic  []TrafficTarget  `json:"traffic,omitempty"`
}

// RevisionTemplate is spec.template of a Knative Service.
type RevisionTemplate struct {
	Metadata metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec     RevisionSpec      `json:"spec"`
}

// RevisionSpec inlines a PodSpec, as Knative does.
type RevisionSpec struct {
	corev1.PodSpec              `json:",inline"`
	ContainerConcurrency        *int64 `json:"containerConcurrency,omitempty"`
	TimeoutSeconds              *int64 `json:"timeoutSeconds,omitempty"`
	ResponseStartTimeoutSeconds *int64 `json:"responseStartTimeoutSeconds,omitempty"`
	IdleTimeoutSeconds          *int64 `json:"idleTimeoutSeconds,omitempty"`
}

// TrafficTarget is one spec.traffic entry.
type TrafficTarget struct {
	Tag               string `json:"tag,omitempty"`
	RevisionName      string `json:"revisionName,omitempty"`
	ConfigurationName string `json:"configurationName,omitempty"`
	LatestRevision    *bool  `json:"latestRevision,omitempty"`
	Percent           *int64 `json:"percent,omitempty"`
}

// KReference points at another Knative-addressable object.
type KReference struct {
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion,omitempty"`
	Group      string `json:"group,omitempty"`
}

// Destination is a Knative duck Destination (sink / subscriber).
type Destination struct {
	Ref      *KReference `json:"ref,omitempty"`
	URI      string      `json:"uri,omitempty"`
	CACerts  *string     `json:"CACerts,omitempty"`
	Audience *string     `json:"audience,omitempty"`
}

// DeliverySpec is Knative's retry/dead-letter policy.
type DeliverySpec struct {
	DeadLetterSink *Destination `json:"deadLetterSink,omitempty"`
	Retry          *int32       `json:"retry,omitempty"`
	Timeout        *string      `json:"timeout,omitempty"`
	BackoffPolicy  *string      `json:"backoffPolicy,omitempty"`
	BackoffDelay   *string      `json:"backoffDelay,omitempty"`
	RetryAfterMax  *string      `json:"retryAfterMax,omitempty"`
}

// Broker is eventing.knative.dev/v1 Broker.
type Broker struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Config   *KReference   `json:"config,omitempty"`
		Delivery *DeliverySpec `json:"delivery,omitempty"`
	} `json:"spec"`
}

// Trigger is eventing.knative.dev/v1 Trigger.
type Trigger struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            TriggerSpec       `json:"spec"`
}

// TriggerSpec is a Trigger's spec.
type TriggerSpec struct {
	Broker string `json:"broker"`
	Filter *struct {
		Attributes map[string]string `json:"attributes,omitempty"`
	} `json:"filter,omitempty"`
	// Filters are the CESQL-style filters; kept opaque.
	Filters    []json.RawMessage `json:"filters,omitempty"`
	Subscriber Destination       `json:"subscriber"`
	Delivery   *DeliverySpec     `json:"delivery,omitempty"`
}

// CloudEventOverrides adds extensions to events a source sends.
type CloudEventOverrides struct {
	Extensions map[string]string `json:"extensions,omitempty"`
}

// SinkBinding is sources.knative.dev/v1 SinkBinding.
type SinkBinding struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Sink                Destination          `json:"sink"`
		CloudEventOverrides *CloudEventOverrides `json:"ceOverrides,omitempty"`
		Subject             struct {
			APIVersion string                `json:"apiVersion"`
			Kind       string                `json:"kind"`
			Namespace  string                `json:"namespace,omitempty"`
			Name       string                `json:"name,omitempty"`
			Selector   *metav1.LabelSelector `json:"selector,omitempty"`
		} `json:"subject"`
	} `json:"spec"`
}

// PingSource is sources.knative.dev/v1 PingSource.
type PingSource struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Sink                Destination          `json:"sink"`
		CloudEventOverrides *CloudEventOverrides `json:"ceOverrides,omitempty"`
		Schedule            string               `json:"schedule"`
		Timezone            string               `json:"timezone,omitempty"`
		ContentType         string               `json:"contentType,omitempty"`
		Data                string               `json:"data,omitempty"`
		DataBase64          string               `json:"dataBase64,omitempty"`
	} `json:"spec"`
}

// OpenFaaSFunction is openfaas.com/v1 Function.
type OpenFaaSFunction struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Name                   string             `json:"name"`
		Image                  string             `json:"image"`
		Replicas               *int32             `json:"replicas,omitempty"`
		Handler                string             `json:"handler,omitempty"`
		Annotations            map[string]string  `json:"annotations,omitempty"`
		Labels                 map[string]string  `json:"labels,omitempty"`
		Environment            map[string]string  `json:"environment,omitempty"`
		Constraints            []string           `json:"constraints,omitempty"`
		Secrets                []string           `json:"secrets,omitempty"`
		Limits                 *FunctionResources `json:"limits,omitempty"`
		Requests               *FunctionResources `json:"requests,omitempty"`
		ReadOnlyRootFilesystem bool               `json:"readOnlyRootFilesystem,omitempty"`
	} `json:"spec"`
}

// FunctionResources is an OpenFaaS cpu/memory pair.
type FunctionResources struct {
	Memory string `json:"memory,omitempty"`
	CPU    string `json:"cpu,omitempty"`
}

// HelmChart is k3s' helm.cattle.io/v1 HelmChart.
type HelmChart struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		TargetNamespace       string                        `json:"targetNamespace,omitempty"`
		CreateNamespace       bool                          `json:"createNamespace,omitempty"`
		Chart                 string                        `json:"chart,omitempty"`
		Version               string                        `json:"version,omitempty"`
		Repo                  string                        `json:"repo,omitempty"`
		RepoCA                string                        `json:"repoCA,omitempty"`
		RepoCAConfigMap       *corev1.LocalObjectReference  `json:"repoCAConfigMap,omitempty"`
		Set                   map[string]intstr.IntOrString `json:"set,omitempty"`
		ValuesContent         string                        `json:"valuesContent,omitempty"`
		HelmVersion           string                        `json:"helmVersion,omitempty"`
		Bootstrap             bool                          `json:"bootstrap,omitempty"`
		ChartContent          string                        `json:"chartContent,omitempty"`
		JobImage              string                        `json:"jobImage,omitempty"`
		BackOffLimit          *int32                        `json:"backOffLimit,omitempty"`
		Timeout               *metav1.Duration              `json:"timeout,omitempty"`
		FailurePolicy         string                        `json:"failurePolicy,omitempty"`
		AuthSecret            *corev1.LocalObjectReference  `json:"authSecret,omitempty"`
		AuthPassCredentials   bool                          `json:"authPassCredentials,omitempty"`
		InsecureSkipTLSVerify bool                          `json:"insecureSkipTLSVerify,omitempty"`
		PlainHTTP             bool                          `json:"plainHTTP,omitempty"`
		DockerRegistrySecret  *corev1.LocalObjectReference  `json:"dockerRegistrySecret,omitempty"`
		PodSecurityContext    *corev1.PodSecurityContext    `json:"podSecurityContext,omitempty"`
		SecurityContext       *corev1.SecurityContext       `json:"securityContext,omitempty"`
	} `json:"spec"`
}

// HelmChartConfig is k3s' helm.cattle.io/v1 HelmChartConfig.
type HelmChartConfig struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		ValuesContent string `json:"valuesContent,omitempty"`
		FailurePolicy string `json:"failurePolicy,omitempty"`
	} `json:"spec"`
}

// Kustomization is kustomize.config.k8s.io Kustomization / Component.
type Kustomization struct {
	metav1.TypeMeta   `json:",inline"`
	Metadata          *metav1.ObjectMeta `json:"metadata,omitempty"`
	Resources         []string           `json:"resources,omitempty"`
	Components        []string           `json:"components,omitempty"`
	Bases             []string           `json:"bases,omitempty"`
	Namespace         string             `json:"namespace,omitempty"`
	NamePrefix        string             `json:"namePrefix,omitempty"`
	NameSuffix        string             `json:"nameSuffix,omitempty"`
	CommonLabels      map[string]string  `json:"commonLabels,omitempty"`
	Labels            []KustomizeLabel   `json:"labels,omitempty"`
	CommonAnnotations map[string]string  `json:"commonAnnotations,omitempty"`
	Images            []KustomizeImage   `json:"images,omitempty"`
	Replicas          []struct {
		Name  string `json:"name"`
		Count int64  `json:"count"`
	} `json:"replicas,omitempty"`
	ConfigMapGenerator    []KustomizeGenerator `json:"configMapGenerator,omitempty"`
	SecretGenerator       []KustomizeGenerator `json:"secretGenerator,omitempty"`
	GeneratorOptions      *GeneratorOptions    `json:"generatorOptions,omitempty"`
	Patches               []KustomizePatch     `json:"patches,omitempty"`
	PatchesStrategicMerge []string             `json:"patchesStrategicMerge,omitempty"`
	PatchesJSON6902       []KustomizePatch     `json:"patchesJson6902,omitempty"`
	Replacements          []json.RawMessage    `json:"replacements,omitempty"`
	Transformers          []string             `json:"transformers,omitempty"`
	Generators            []string             `json:"generators,omitempty"`
	Validators            []string             `json:"validators,omitempty"`
	Crds                  []string             `json:"crds,omitempty"`
	Configurations        []string             `json:"configurations,omitempty"`
	BuildMetadata         []string             `json:"buildMetadata,omitempty"`
	SortOptions           json.RawMessage      `json:"sortOptions,omitempty"`
	HelmCharts            []json.RawMessage    `json:"helmCharts,omitempty"`
	OpenAPI               map[string]string    `json:"openapi,omitempty"`
}

// KustomizeLabel is one labels: entry.
type KustomizeLabel struct {
	Pairs            map[string]string `json:"pairs,omitempty"`
	IncludeSelectors bool              `json:"includeSelectors,omitempty"`
	IncludeTemplates bool              `json:"includeTemplates,omitempty"`
	Fields           []json.RawMessage `json:"fields,omitempty"`
}

// KustomizeImage is one images: entry.
type KustomizeImage struct {
	Name      string `json:"name"`
	NewName   string `json:"newName,omitempty"`
	NewTag    string `json:"newTag,omitempty"`
	TagSuffix string `json:"tagSuffix,omitempty"`
	Digest    string `json:"digest,omitempty"`
}

// KustomizeGenerator is a configMapGenerator / secretGenerator entry.
type KustomizeGenerator struct {
	Name      string            `json:"name,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Behavior  string            `json:"behavior,omitempty"`
	Files     []string          `json:"files,omitempty"`
	Literals  []string          `json:"literals,omitempty"`
	Envs      []string          `json:"envs,omitempty"`
	Env       string            `json:"env,omitempty"`
	Type      string            `json:"type,omitempty"`
	Options   *GeneratorOptions `json:"options,omitempty"`
}

// GeneratorOptions tunes generated ConfigMaps / Secrets.
type GeneratorOptions struct {
	Labels                map[string]string `json:"labels,omitempty"`
	Annotations           map[string]string `json:"annotations,omitempty"`
	DisableNameSuffixHash bool              `json:"disableNameSuffixHash,omitempty"`
	Immutable             bool              `json:"immutable,omitempty"`
}

// KustomizePatch is a patches: / patchesJson6902: entry.
type KustomizePatch struct {
	Path    string          `json:"path,omitempty"`
	Patch   string          `json:"patch,omitempty"`
	Target  *PatchTarget    `json:"target,omitempty"`
	Options map[string]bool `json:"options,omitempty"`
}

// PatchTarget selects the resources a patch applies to.
type PatchTarget struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}
