//! Hand-written schema with portable types only (both backends share it; never regenerate it
//! from one backend with `diesel print-schema`).

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    organisations (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        townships -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    institutions (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        licence_no -> Text,
        township -> Text,
        village -> Text,
        address -> Text,
        lat -> Double,
        lng -> Double,
        h3_cell -> BigInt,
        beds -> Integer,
        contact_name -> Text,
        contact_phone -> Text,
        contact_email -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        service_mode -> Text,
        hub_id -> Nullable<Text>,
        collection_interval_h -> Integer,
        opening_hours -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        login -> Text,
        password_hash -> Text,
        role -> Text,
        org_id -> Nullable<Text>,
        institution_id -> Nullable<Text>,
        display_name -> Nullable<Text>,
        email -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(users -> organisations (org_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    containers (id) {
        id -> Text,
        code -> Text,
        institution_id -> Text,
        category -> Text,
        packaging -> Text,
        note -> Nullable<Text>,
        state -> Text,
        flags -> Text,
        parent_id -> Nullable<Text>,
        seal_weight_g -> Nullable<Integer>,
        collect_weight_g -> Nullable<Integer>,
        receive_weight_g -> Nullable<Integer>,
        sealed_at -> Nullable<Timestamp>,
        collected_at -> Nullable<Timestamp>,
        received_at -> Nullable<Timestamp>,
        disposed_at -> Nullable<Timestamp>,
        event_count -> Integer,
        head_hash -> Text,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        version -> Integer,
        holds -> Integer,
    }
}

diesel::table! {
    scan_events (id) {
        id -> Text,
        container_id -> Text,
        seq -> Integer,
        action -> Text,
        occurred_at -> Timestamp,
        received_at -> Timestamp,
        actor_id -> Text,
        actor_role -> Text,
        weight_g -> Nullable<Integer>,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        run_id -> Nullable<Text>,
        reason -> Nullable<Text>,
        method -> Nullable<Text>,
        device_id -> Nullable<Text>,
        via_parent -> Nullable<Text>,
        parent_code -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
        weight_source -> Nullable<Text>,
        batch -> Nullable<Text>,
        disposed_at -> Nullable<Timestamp>,
        corrects -> Nullable<Text>,
        new_value -> Nullable<Text>,
    }
}

diesel::joinable!(containers -> institutions (institution_id));
diesel::joinable!(scan_events -> containers (container_id));

diesel::table! {
    vehicles (id) {
        id -> Text,
        org_id -> Text,
        plate -> Text,
        capacity_kg -> Integer,
        capacity_units -> Integer,
        refrigerated -> Bool,
        shift_start -> Text,
        shift_end -> Text,
        driver_id -> Nullable<Text>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    pickup_requests (id) {
        id -> Text,
        institution_id -> Text,
        requested_by -> Text,
        earliest -> Nullable<Timestamp>,
        latest -> Nullable<Timestamp>,
        est_weight_g -> Integer,
        containers -> Nullable<Integer>,
        note -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    plans (id) {
        id -> Text,
        org_id -> Text,
        day -> Text,
        created_by -> Text,
        unassigned -> Text,
        created_at -> Timestamp,
        horizon_days -> Integer,
        notes -> Text,
        superseded_by -> Nullable<Text>,
    }
}

diesel::table! {
    provisional_routes (id) {
        id -> Text,
        plan_id -> Text,
        day -> Text,
        vehicle_id -> Text,
        distance_m -> Double,
        duration_s -> Double,
        load_g -> Integer,
    }
}

diesel::table! {
    provisional_stops (id) {
        id -> Text,
        route_id -> Text,
        seq -> Integer,
        institution_id -> Text,
        eta -> Timestamp,
        deadline -> Nullable<Timestamp>,
        expected_g -> Integer,
        reasons -> Text,
    }
}

diesel::table! {
    runs (id) {
        id -> Text,
        plan_id -> Text,
        org_id -> Text,
        vehicle_id -> Text,
        driver_id -> Nullable<Text>,
        day -> Text,
        status -> Text,
        start_time -> Timestamp,
        end_time -> Timestamp,
        distance_m -> Double,
        duration_s -> Double,
        load_g -> Integer,
        created_at -> Timestamp,
        fetched_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    run_stops (id) {
        id -> Text,
        run_id -> Text,
        seq -> Integer,
        institution_id -> Text,
        eta -> Timestamp,
        deadline -> Nullable<Timestamp>,
        expected_g -> Integer,
        expected_containers -> Integer,
        reasons -> Text,
        status -> Text,
        skip_reason -> Nullable<Text>,
        completed_at -> Nullable<Timestamp>,
        completed_by -> Nullable<Text>,
    }
}

diesel::table! {
    positions (run_id, at) {
        run_id -> Text,
        at -> Timestamp,
        lat -> Double,
        lng -> Double,
        received_at -> Timestamp,
    }
}

diesel::table! {
    manifests (id) {
        id -> Text,
        number -> Text,
        run_id -> Text,
        institution_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(run_stops -> runs (run_id));
diesel::joinable!(run_stops -> institutions (institution_id));
diesel::joinable!(runs -> vehicles (vehicle_id));
diesel::joinable!(provisional_stops -> provisional_routes (route_id));
diesel::joinable!(provisional_stops -> institutions (institution_id));
diesel::joinable!(provisional_routes -> vehicles (vehicle_id));
diesel::joinable!(manifests -> runs (run_id));

diesel::table! {
    alerts (id) {
        id -> Text,
        condition_key -> Text,
        rule -> Text,
        severity -> Text,
        subject_type -> Text,
        subject_id -> Text,
        institution_id -> Nullable<Text>,
        township -> Nullable<Text>,
        detail -> Text,
        status -> Text,
        opened_at -> Timestamp,
        acked_at -> Nullable<Timestamp>,
        acked_by -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<Text>,
        note -> Nullable<Text>,
        org_id -> Nullable<Text>,
    }
}

diesel::table! {
    inspections (id) {
        id -> Text,
        institution_id -> Nullable<Text>,
        org_id -> Nullable<Text>,
        township -> Nullable<Text>,
        inspector_id -> Text,
        inspected_at -> Timestamp,
        packaging -> Bool,
        labels -> Bool,
        storage_time -> Bool,
        register -> Bool,
        signage -> Bool,
        passed -> Bool,
        notes -> Nullable<Text>,
        rectification_deadline -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    roster_entries (id) {
        id -> Text,
        licence_no -> Text,
        name -> Text,
        kind -> Text,
        township -> Text,
        village -> Text,
        address -> Text,
        lat -> Nullable<Double>,
        lng -> Nullable<Double>,
        beds -> Integer,
        disposal -> Text,
        self_disposal_basis -> Nullable<Text>,
        institution_id -> Nullable<Text>,
        invite_code_hash -> Nullable<Text>,
        invited_at -> Nullable<Timestamp>,
        invited_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    watch_list (id) {
        id -> Text,
        condition_key -> Text,
        rule -> Text,
        institution_id -> Nullable<Text>,
        org_id -> Nullable<Text>,
        township -> Text,
        reason -> Text,
        owner -> Text,
        deadline -> Timestamp,
        status -> Text,
        level -> Integer,
        opened_at -> Timestamp,
        escalated_at -> Nullable<Timestamp>,
        struck_off_at -> Nullable<Timestamp>,
        struck_off_by -> Nullable<Text>,
        evidence -> Nullable<Text>,
        evidence_inspection_id -> Nullable<Text>,
    }
}

diesel::table! {
    rectifications (id) {
        id -> Text,
        inspection_id -> Text,
        institution_id -> Nullable<Text>,
        org_id -> Nullable<Text>,
        township -> Nullable<Text>,
        deadline -> Timestamp,
        status -> Text,
        opened_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        closed_by_inspection_id -> Nullable<Text>,
    }
}

diesel::table! {
    enforcement_actions (id) {
        id -> Text,
        kind -> Text,
        institution_id -> Nullable<Text>,
        org_id -> Nullable<Text>,
        township -> Nullable<Text>,
        referred_to -> Nullable<Text>,
        summary -> Text,
        decided_at -> Timestamp,
        recorded_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    enforcement_documents (id) {
        id -> Text,
        action_id -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        data -> Binary,
        uploaded_by -> Text,
        uploaded_at -> Timestamp,
    }
}

diesel::joinable!(enforcement_documents -> enforcement_actions (action_id));

diesel::table! {
    /// Failed sign-ins per login and client address, shared by every server process.
    login_throttle (key) {
        key -> Text,
        failures -> BigInt,
        since_us -> BigInt,
    }
}

diesel::table! {
    /// Background jobs that one server process at a time runs, and until when it holds them.
    job_leases (name) {
        name -> Text,
        holder -> Text,
        until_us -> BigInt,
    }
}

diesel::table! {
    handover_settings (institution_id) {
        institution_id -> Text,
        confirm_code -> Nullable<Text>,
        unattended_consent -> Bool,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    handover_confirmations (id) {
        id -> Text,
        manifest_id -> Text,
        method -> Text,
        containers -> Text,
        container_count -> Integer,
        weight_g -> BigInt,
        device_at -> Timestamp,
        mac -> Text,
        verified -> Bool,
        flag -> Nullable<Text>,
        submitted_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    manifest_signatures (id) {
        id -> Text,
        manifest_id -> Text,
        party -> Text,
        seq -> Integer,
        user_id -> Text,
        signer_name -> Text,
        signer_role -> Text,
        signed_at -> Timestamp,
        recorded_at -> Timestamp,
        covers -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    login_throttle,
    job_leases,
    handover_settings,
    handover_confirmations,
    manifest_signatures,
    corrections,
    correction_votes,
    settings,
    organisations,
    institutions,
    users,
    refresh_tokens,
    sessions,
    containers,
    scan_events,
    vehicles,
    pickup_requests,
    plans,
    provisional_routes,
    provisional_stops,
    runs,
    run_stops,
    positions,
    manifests,
    alerts,
    inspections,
    roster_entries,
    watch_list,
    rectifications,
    enforcement_actions,
    enforcement_documents,
);

diesel::table! {
    corrections (id) {
        id -> Text,
        container_id -> Text,
        event_id -> Nullable<Text>,
        field -> Text,
        old_value -> Text,
        new_value -> Text,
        reason -> Text,
        requested_by -> Text,
        requested_party -> Text,
        requested_at -> Timestamp,
        status -> Text,
        decided_at -> Nullable<Timestamp>,
        applied_event_id -> Nullable<Text>,
    }
}

diesel::table! {
    correction_votes (correction_id, party) {
        correction_id -> Text,
        party -> Text,
        user_id -> Text,
        decision -> Text,
        note -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::joinable!(corrections -> containers (container_id));
diesel::joinable!(correction_votes -> corrections (correction_id));
