package aws

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// answerWrites answers Create (whole) or Update (byID) with status, errType
// and message, and passes every other call to the simulator.
func answerWrites(byID bool, status int, errType, msg string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			isUpdate := !strings.HasSuffix(r.URL.Path, "/pod-identity-associations")
			if r.Method != http.MethodPost || isUpdate != byID {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-ErrorType", errType)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"message":"` + msg + `"}`))
		})
	}
}

// TestWriteErrorMessages: a denied Create names the permissions a Create
// needs (tagging included) and a denied Update those of an Update; a
// rejected write points at the role only when EKS's message is about it.
func TestWriteErrorMessages(t *testing.T) {
	tests := []struct {
		name          string
		update        bool
		status        int
		errType, msg  string
		want, wantNot string
	}{
		{name: "create denied", status: http.StatusForbidden, errType: "AccessDeniedException", msg: "no",
			want: "need eks:CreatePodIdentityAssociation on the cluster, and iam:PassRole on " + roleARN("orders") + ", and eks:TagResource:"},
		{name: "update denied", update: true, status: http.StatusForbidden, errType: "AccessDeniedException", msg: "no",
			want: "need eks:UpdatePodIdentityAssociation on the cluster, and iam:PassRole on " + roleARN("orders") + ":", wantNot: "TagResource"},
		{name: "create rejected about the role", status: http.StatusBadRequest, errType: "InvalidParameterException",
			msg: "Role provided in the request does not exist", want: "check keyless.dev/aws-role"},
		{name: "create rejected about something else", status: http.StatusBadRequest, errType: "InvalidParameterException",
			msg: "The parameter namespace is invalid.", want: "was rejected: The parameter namespace is invalid.", wantNot: "check keyless.dev/aws-role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, answerWrites(tt.update, tt.status, tt.errType, tt.msg))
			c := conn("ns", "sa", role("orders"))
			if tt.update {
				e.mustEnsure(t, conn("ns", "sa", role("old")))
				c.KnownID = e.known
			}
			_, err := e.p.Ensure(context.Background(), c)
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			if tt.wantNot != "" && strings.Contains(err.Error(), tt.wantNot) {
				t.Errorf("error %q\nwant no %q", err, tt.wantNot)
			}
		})
	}
}
