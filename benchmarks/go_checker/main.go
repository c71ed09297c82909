// Command go-checker-bench times kube-apiserver's own audit-policy rule checker on a list of requests, so that
// benchmarks/evaluator_vs_go.py can set the collection's Python evaluator beside it and check that both give
// every request the same level.
//
// What is kube-apiserver's (k8s.io/apiserver at the version of the kube-apiserver scripts/build-k0s.sh builds,
// required by go.mod beside this file, with k0s's replace block; built by scripts/build-k0s.sh):
//   - the policy reader: pkg/audit/policy/reader.go LoadPolicyFromFile (strict decoding of audit.k8s.io/v1,
//     then validation.ValidatePolicy), as --audit-policy-file is read in pkg/server/options/audit.go;
//   - the checker: pkg/audit/policy/checker.go NewPolicyRuleEvaluator and EvaluatePolicyRule, which
//     pkg/endpoints/filters/audit.go evaluatePolicyAndCreateAuditEvent calls once per request;
//   - the request's attributes: an *authorizer.AttributesRecord (pkg/authorization/authorizer/interfaces.go),
//     as pkg/endpoints/filters/authorization.go GetAuthorizerAttributes builds it (User left nil when the
//     request carries no user).
//
// Ours: reading the requests from JSON lines and the timing loop. Only the loop over EvaluatePolicyRule is timed.
//
//	go-checker-bench -policy POLICY.yaml -requests REQUESTS.jsonl [-repeat 7] [-min-seconds 0.2] [-levels LEVELS.txt]
//
// Each line of REQUESTS.jsonl is one object with the fields of AttributesRecord that the checker reads:
//
//	{"user": {"name": "...", "groups": ["..."]} or null, "verb": "...", "namespace": "...", "apiGroup": "...",
//	 "resource": "...", "subresource": "...", "name": "...", "path": "...", "resourceRequest": true}
//
// A first, untimed pass warms up; each of the -repeat timed passes goes over the list as many times as it takes to
// last -min-seconds (a pass over a short list is too short to time). It prints one JSON object: requests, rules,
// repeat, rounds (times over the list per pass), median_seconds (of one time over the list),
// requests_per_second and the count per level; -levels writes the level of each request, one a line, in input
// order.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

type requestUser struct {
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
}

type request struct {
	User            *requestUser `json:"user"`
	Verb            string       `json:"verb"`
	Namespace       string       `json:"namespace"`
	APIGroup        string       `json:"apiGroup"`
	Resource        string       `json:"resource"`
	Subresource     string       `json:"subresource"`
	Name            string       `json:"name"`
	Path            string       `json:"path"`
	ResourceRequest bool         `json:"resourceRequest"`
}

type summary struct {
	Requests          int            `json:"requests"`
	Rules             int            `json:"rules"`
	Repeat            int            `json:"repeat"`
	Rounds            int            `json:"rounds"`
	MedianSeconds     float64        `json:"median_seconds"`
	RequestsPerSecond float64        `json:"requests_per_second"`
	Levels            map[string]int `json:"levels"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-checker-bench: "+format+"\n", args...)
	os.Exit(2)
}

func readRequests(path string) []authorizer.Attributes {
	file, err := os.Open(path)
	if err != nil {
		fail("-requests: cannot open %s: %v; give a JSON-lines file of requests.", path, err)
	}
	defer file.Close()
	var attrs []authorizer.Attributes
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; scanner.Scan(); line++ {
		if len(bytes.TrimSpace(scanner.Bytes())) == 0 {
			continue
		}
		var req request
		decoder := json.NewDecoder(bytes.NewReader(scanner.Bytes()))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(&req); err != nil {
			fail("-requests: line %d of %s is not a request object (%v); write the fields listed in main.go.",
				line, path, err)
		}
		record := &authorizer.AttributesRecord{
			Verb:            req.Verb,
			Namespace:       req.Namespace,
			APIGroup:        req.APIGroup,
			Resource:        req.Resource,
			Subresource:     req.Subresource,
			Name:            req.Name,
			Path:            req.Path,
			ResourceRequest: req.ResourceRequest,
		}
		// A nil *DefaultInfo in the interface would not be a nil user.Info: set User only when there is one.
		if req.User != nil {
			record.User = &user.DefaultInfo{Name: req.User.Name, Groups: req.User.Groups}
		}
		attrs = append(attrs, record)
	}
	if err := scanner.Err(); err != nil {
		fail("-requests: cannot read %s: %v.", path, err)
	}
	if len(attrs) == 0 {
		fail("-requests: %s holds no request; write at least one JSON line.", path)
	}
	return attrs
}

func main() {
	policyPath := flag.String("policy", "", "audit.k8s.io/v1 Policy file (YAML or JSON)")
	requestsPath := flag.String("requests", "", "JSON-lines file of requests")
	repeat := flag.Int("repeat", 7, "timed passes over the requests; the median is reported")
	minSeconds := flag.Float64("min-seconds", 0.2, "shortest timed pass; short lists are gone over several times")
	levelsPath := flag.String("levels", "", "file to write each request's level to, one a line")
	flag.Parse()
	if *policyPath == "" || *requestsPath == "" {
		fail("-policy and -requests are both required; give the policy file and the JSON-lines request file.")
	}
	if *repeat < 1 {
		fail("-repeat must be 1 or more, not %d.", *repeat)
	}

	loaded, err := policy.LoadPolicyFromFile(*policyPath)
	if err != nil {
		fail("-policy: kube-apiserver would not load it: %v", err)
	}
	rules := len(loaded.Rules)
	evaluator := policy.NewPolicyRuleEvaluator(loaded)
	attrs := readRequests(*requestsPath)

	levels := make([]audit.Level, len(attrs))
	evaluate := func() {
		for i, attr := range attrs {
			levels[i] = evaluator.EvaluatePolicyRule(attr).Level
		}
	}
	start := time.Now()
	evaluate() // warm-up, and the time of one round
	rounds := 1
	if once := time.Since(start).Seconds(); once > 0 && once < *minSeconds {
		rounds = int(math.Ceil(*minSeconds / once))
	}
	durations := make([]float64, 0, *repeat)
	for pass := 0; pass < *repeat; pass++ {
		start := time.Now()
		for round := 0; round < rounds; round++ {
			evaluate()
		}
		durations = append(durations, time.Since(start).Seconds()/float64(rounds))
	}
	sort.Float64s(durations)
	median := durations[len(durations)/2]
	if len(durations)%2 == 0 {
		median = (durations[len(durations)/2-1] + durations[len(durations)/2]) / 2
	}

	counts := map[string]int{}
	for _, level := range levels {
		counts[string(level)]++
	}
	if *levelsPath != "" {
		var out bytes.Buffer
		for _, level := range levels {
			out.WriteString(string(level))
			out.WriteByte('\n')
		}
		if err := os.WriteFile(*levelsPath, out.Bytes(), 0o644); err != nil {
			fail("-levels: cannot write %s: %v.", *levelsPath, err)
		}
	}
	result := summary{
		Requests:          len(attrs),
		Rules:             rules,
		Repeat:            *repeat,
		Rounds:            rounds,
		MedianSeconds:     median,
		RequestsPerSecond: float64(len(attrs)) / median,
		Levels:            counts,
	}
	encoded, err := json.Marshal(result)
	if err != nil {
		fail("cannot encode the summary: %v", err)
	}
	fmt.Println(string(encoded))
}
