// Command kube-apiserver (test build) is the smallest API server that runs kube-apiserver's own audit code:
// the --audit-* flags, their validation and ApplyTo from k8s.io/apiserver pkg/server/options/audit.go, the
// policy reader and checker, and the log backend with lumberjack rotation. It serves no API groups (resource
// requests answer 404, yet each is audited); see README.md beside this file.
//
// What is kube-apiserver's and where it comes from (kubernetes v1.36):
//   - the command: cmd/kube-apiserver/app/server.go NewAPIServerCommand (cobra, no positional arguments,
//     options validated and the errors aggregated), run through k8s.io/component-base cli/run.go, which sets
//     cliflag.WordSepNormalizeFunc ('_' read as '-') and prints flag errors as "Error: ..." with exit status 1;
//   - serving defaults: pkg/kubeapiserver/options/serving.go (port 6443, Required, /var/run/kubernetes/apiserver.*),
//     and the self-signed certificate of cmd/kube-apiserver/app/options/completion.go
//     (MaybeDefaultWithSelfSignedCerts);
//   - authentication: pkg/kubeapiserver/authenticator/config.go (--token-auth-file through tokenfile.NewCSV and
//     bearertoken, every authenticated user given system:authenticated by group.NewAuthenticatedGroupAdder, then
//     anonymous as system:anonymous/system:unauthenticated), the loopback token added by
//     k8s.io/apiserver pkg/server/config.go AuthorizeClientBearerToken;
//   - the order options are applied in: pkg/controlplane/apiserver/config.go BuildGenericConfig (serving first,
//     audit later).
//
// Not kube-apiserver's: authorization is AlwaysAllow (kube-apiserver's default RBAC lets anonymous read
// /healthz, /readyz and /livez, which is all a test needs), and there is no storage or API group.
package main

import (
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/anonymous"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/component-base/cli"
	netutils "k8s.io/utils/net"
)

func main() {
	os.Exit(cli.Run(newCommand()))
}

func newCommand() *cobra.Command {
	serving := (&genericoptions.SecureServingOptions{
		BindAddress: netutils.ParseIPSloppy("0.0.0.0"),
		BindPort:    6443,
		Required:    true,
		ServerCert: genericoptions.GeneratableKeyCert{
			PairName:      "apiserver",
			CertDirectory: "/var/run/kubernetes",
		},
	}).WithLoopback()
	audit := genericoptions.NewAuditOptions()
	var tokenAuthFile string

	cmd := &cobra.Command{
		Use:  "kube-apiserver",
		Long: "A test API server that runs kube-apiserver's audit options, policy checker and log backend.",
		Args: func(cmd *cobra.Command, args []string) error {
			for _, arg := range args {
				if len(arg) > 0 {
					return fmt.Errorf("%q does not take any arguments, got %q", cmd.CommandPath(), args)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := append(serving.Validate(), audit.Validate()...)
			if len(errs) != 0 {
				return utilerrors.NewAggregate(errs)
			}
			return run(serving, audit, tokenAuthFile)
		},
	}
	fs := cmd.Flags()
	serving.AddFlags(fs)
	audit.AddFlags(fs)
	// Flag name and help as in pkg/kubeapiserver/options/authentication.go (TokenFileAuthenticationOptions).
	fs.StringVar(&tokenAuthFile, "token-auth-file", "",
		"If set, the file that will be used to secure the secure port of the API server via token authentication.")
	return cmd
}

func run(serving *genericoptions.SecureServingOptionsWithLoopback, audit *genericoptions.AuditOptions, tokenAuthFile string) error {
	if err := serving.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return fmt.Errorf("error creating self-signed certificates: %v", err)
	}
	config := genericapiserver.NewConfig(serializer.NewCodecFactory(runtime.NewScheme()))
	config.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	if err := serving.ApplyTo(&config.SecureServing, &config.LoopbackClientConfig); err != nil {
		return err
	}

	var authenticators []authenticator.Request
	if tokenAuthFile != "" {
		tokens, err := tokenfile.NewCSV(tokenAuthFile)
		if err != nil {
			return err
		}
		authenticators = append(authenticators, bearertoken.New(tokens))
	}
	authn := group.NewAuthenticatedGroupAdder(union.New(authenticators...))
	config.Authentication.Authenticator = union.NewFailOnError(authn, anonymous.NewAuthenticator(nil))
	config.Authorization.Authorizer = authorizerfactory.NewAlwaysAllowAuthorizer()
	genericapiserver.AuthorizeClientBearerToken(config.LoopbackClientConfig, &config.Authentication, &config.Authorization)

	if err := audit.ApplyTo(config); err != nil {
		return err
	}
	server, err := config.Complete(nil).New("kube-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	return server.PrepareRun().RunWithContext(genericapiserver.SetupSignalContext())
}
