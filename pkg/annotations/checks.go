package annotations

// ResourceGroupProblem says what is wrong with an Azure resource group name,
// or returns "" for a valid one. Configuration validation uses it.
func ResourceGroupProblem(s string) string { return resourceGroupRule(s) }

// IsGUID reports whether s is a GUID (8-4-4-4-12 hex digits).
func IsGUID(s string) bool { return isGUID(s) }

// IsAWSAccountID reports whether s is an AWS account ID (12 digits).
func IsAWSAccountID(s string) bool { return isDigits(s, 12) }
