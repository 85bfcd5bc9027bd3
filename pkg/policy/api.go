package policy

// The API the webhook, the controller and the CLI use. Implemented in the
// other files of the package.
//
//	func Parse(raw []byte) (*Policy, error)
//	    Decodes and validates a document. Empty input (only blanks and
//	    comments) gives Default(). Errors carry line and column and say how
//	    to fix the problem; every problem is reported at once.
//	func Default() *Policy
//	    The safe default: in every namespace, identities must carry the
//	    namespace's name as prefix (enforce).
//	func (p *Policy) Evaluate(in Input) []Violation
//	    Every violated rule, in rule order.
//	func (p *Policy) ExistingViolations() ExistingViolations
//	func (p *Policy) Rules() []Rule
//	func IdentityKey(cloud string, c annotations.Connections, azureSubscription string) string
//	    The canonical, case-folded key of one cloud's identity of c ("" when c
//	    has none), for the one-identity-one-ServiceAccount rule and its index.
//
// Added with the implementation:
//
//	func ParseNamed(name string, raw []byte) (*Policy, error)
//	    Parse, with the file name to put in messages (Parse uses "policy.yaml").
//	var DefaultYAML []byte
//	    Default() as a commented document; Parse(DefaultYAML) equals Default().
//	func Enforced(vs []Violation) []Violation
//	func ByMode(vs []Violation, m Mode) []Violation
//	func (v Violation) String() string
//	const CloudAWS, CloudAzure, CloudGCP
//	    The cloud names of Violation.Cloud and IdentityKey.
//	func IdentityKeys(c annotations.Connections, cl Cluster) []string
